//! OpenTelemetry traces over OTLP (`--tracing-enabled`, Keycloak's tracing options).
//!
//! The server's `tracing` spans are the trace: the `request` span of every request
//! (`http::request_id`, which joins the caller's trace when a W3C `traceparent` header comes
//! with the request), and under it the `debug`-level spans of the store entry points and of
//! token signing. A `tracing-opentelemetry` layer turns them into OpenTelemetry spans, which a
//! batch processor on the Tokio runtime sends to the collector (gRPC or HTTP/protobuf): no
//! request waits on the export, and an unreachable collector only loses spans.
//!
//! Off (the default), none of this is set up: no exporter, no propagator, and the `debug`
//! spans stay disabled at their call sites by the log filter.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::telemetry::{Protocol, Tracing};

/// Whether a span goes to the trace: the server's own spans down to `debug` (the store's and
/// signing's); log events stay in the log.
pub fn traced(meta: &Metadata<'_>) -> bool {
    meta.is_span()
        && meta.target().starts_with("portcullis")
        && *meta.level() <= tracing::Level::DEBUG
}

/// The sampler: the caller's decision when a `traceparent` came with the request (Keycloak's
/// Quarkus tracing is parent-based too), otherwise `tracing-sampler-ratio` of the trace ids.
pub fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}

/// Builds the exporter and the tracer provider (inside the Tokio runtime) and returns the
/// layer to add to the subscriber; also installs the W3C trace-context propagator the request
/// layer reads `traceparent` with.
pub fn layer<S>(t: &Tracing) -> anyhow::Result<impl Layer<S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let url = t.export_url();
    let exporter = match t.protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url)
            .build()?,
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(crate::http::outbound::client()?)
            .with_endpoint(url)
            .build()?,
    };
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler(t.sampler_ratio))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(t.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("portcullis");
    opentelemetry::global::set_tracer_provider(provider);
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::filter_fn(traced)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SamplingDecision, SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::ShouldSample;

    #[test]
    fn a_sampled_caller_is_followed_whatever_the_ratio() {
        let parent = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap_or(TraceId::INVALID),
            opentelemetry::trace::SpanId::from_hex("00f067aa0ba902b7")
                .unwrap_or(opentelemetry::trace::SpanId::INVALID),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap_or(TraceId::INVALID);
        let decide = |s: &Sampler, cx: Option<&opentelemetry::Context>| {
            s.should_sample(cx, id, "request", &SpanKind::Server, &[], &[])
                .decision
        };
        let never = sampler(0.0);
        assert_eq!(
            decide(&never, Some(&parent)),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(decide(&never, None), SamplingDecision::Drop);
        assert_eq!(
            decide(&sampler(1.0), None),
            SamplingDecision::RecordAndSample
        );
    }
}

//! OpenTelemetry traces over OTLP (`--tracing-enabled`): a collector stand-in receives the token
//! request's span in the caller's trace (W3C `traceparent`) with its child spans, over both
//! protocols: HTTP/protobuf (an axum server taking `POST /v1/traces`, bodies decoded with
//! `opentelemetry-proto`) and gRPC (Keycloak's default protocol: a tonic server running
//! `opentelemetry-proto`'s generated `TraceService`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::support::*;

type Received = Arc<Mutex<Vec<(Option<String>, Span)>>>;

/// Keeps every span of an export (with the `service.name` of its resource).
fn keep(got: &Received, req: ExportTraceServiceRequest) {
    let mut got = got.lock().unwrap();
    for rs in req.resource_spans {
        let service = rs.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
        });
        for ss in rs.scope_spans {
            for s in ss.spans {
                got.push((service.clone(), s));
            }
        }
    }
}

/// `POST /v1/traces` of the HTTP/protobuf collector.
async fn export(State(got): State<Received>, body: Bytes) -> StatusCode {
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    keep(&got, req);
    StatusCode::OK
}

/// The gRPC collector's `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
struct GrpcCollector(Received);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC collector on an ephemeral port (HTTP/2 without TLS, as `http://` endpoints
/// are exported to).
async fn grpc_collector() -> (String, Received) {
    let got: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(GrpcCollector(got.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap()
    });
    (format!("http://{addr}"), got)
}

async fn collector() -> (String, Received) {
    let got: Received = Arc::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn a_token_request_is_traced_in_the_callers_trace_with_child_spans() {
    let (endpoint, got) = collector().await;
    traced_token_request("http/protobuf", &endpoint, &got).await;
}

#[tokio::test]
async fn traces_reach_an_otlp_grpc_collector() {
    let (endpoint, got) = grpc_collector().await;
    traced_token_request("grpc", &endpoint, &got).await;
}

/// Starts a server exporting to `endpoint` over `protocol`, sends a token request in a caller's
/// trace and one outside any, and checks what the collector got: the request span in the
/// caller's trace, its store and signing children, nothing of the unsampled request.
async fn traced_token_request(protocol: &str, endpoint: &str, got: &Received) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    write_realms(
        &data,
        &[json!({
            "realm": "traced",
            "clients": [{"clientId": "svc", "secret": "svc-secret",
                         "serviceAccountsEnabled": true, "standardFlowEnabled": false}]
        })],
    );
    let server = TestServer::start(
        &data,
        "start-dev",
        &[
            "--import-realm",
            "--tracing-enabled",
            "true",
            "--tracing-protocol",
            protocol,
            "--tracing-endpoint",
            endpoint,
            // The caller's sampled flag decides, whatever the ratio.
            "--tracing-sampler-ratio",
            "0",
        ],
        &[],
    )
    .unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let r = client()
        .post(server.url("/realms/traced/protocol/openid-connect/token"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A request without `traceparent` at ratio 0 is not sampled: nothing of it is exported.
    let r = client()
        .get(server.url("/realms/traced/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The batch exporter sends on its own schedule: wait for the request span and its children.
    let mut spans = Vec::new();
    for _ in 0..300 {
        spans = got.lock().unwrap().clone();
        let request = spans
            .iter()
            .find(|(_, s)| s.name == "request" && hex(&s.trace_id) == trace_id);
        if let Some((_, req)) = request {
            if spans
                .iter()
                .any(|(_, s)| s.name == "jws.sign" && s.trace_id == req.trace_id)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (service, request) = spans
        .iter()
        .find(|(_, s)| s.name == "request" && hex(&s.trace_id) == trace_id)
        .unwrap_or_else(|| {
            panic!(
                "no request span in the caller's trace; got {:?}",
                spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        hex(&request.parent_span_id),
        caller_span,
        "joins the caller's span"
    );
    assert!(
        service.as_deref().unwrap_or("").contains("keycloak"),
        "{service:?}"
    );
    let path = request
        .attributes
        .iter()
        .find(|a| a.key == "path")
        .map(|a| format!("{:?}", a.value));
    assert!(
        path.as_deref()
            .unwrap_or("")
            .contains("/realms/traced/protocol/openid-connect/token"),
        "{path:?}"
    );
    // Children: the signing of the access token and the store's look-ups, all in the trace,
    // each with a parent inside it.
    let in_trace: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.trace_id == request.trace_id)
        .collect();
    let ids: Vec<&Vec<u8>> = in_trace.iter().map(|s| &s.span_id).collect();
    let sign = in_trace
        .iter()
        .find(|s| s.name == "jws.sign")
        .expect("a signing span");
    assert!(
        ids.contains(&&sign.parent_span_id),
        "signing has a parent in the trace"
    );
    assert!(
        in_trace
            .iter()
            .any(|s| s.parent_span_id == request.span_id && s.name != "request"),
        "a direct child of the request span: {:?}",
        in_trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // A store span (its module is the store's: `code.module.name` `portcullis::store::...`).
    let store = in_trace
        .iter()
        .find(|s| {
            s.attributes.iter().any(|a| {
                a.key == "code.module.name"
                    && format!("{:?}", a.value).contains("portcullis::store")
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no store span in the trace: {:?}",
                in_trace.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert!(
        ids.contains(&&store.parent_span_id),
        "the store span has a parent in the trace"
    );
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.len() >= 3,
        "request, store and signing spans: {names:?}"
    );
    // The unsampled request left no request span of another trace.
    assert!(
        !spans
            .iter()
            .any(|(_, s)| s.name == "request" && s.trace_id != request.trace_id),
        "ratio 0 samples no trace of its own"
    );
}

//! Keycloak reads its JSON with Jackson, which coerces scalars: `"true"` is a boolean, `"300"`
//! and `300.0` are integers. Realm files and Admin API bodies written for
//! Keycloak rely on it, so the typed fields of the representations accept the same, and what
//! was stored before a field was typed still reads. Everything else (lists, maps, nested
//! representations) reads as serde reads it.

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, Visitor};

/// A field type read the way Jackson reads it.
pub trait Lenient: Sized {
    /// Reads a value.
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Reads an optional field (`null` and absent are `None`).
pub fn opt<'de, D: Deserializer<'de>, T: Lenient>(d: D) -> Result<Option<T>, D::Error> {
    struct W<T>(T);
    impl<'de, T: Lenient> Deserialize<'de> for W<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            T::lenient(d).map(W)
        }
    }
    Ok(Option::<W<T>>::deserialize(d)?.map(|w| w.0))
}

#[derive(Clone, Copy)]
struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(true),
            t if t.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl Lenient for bool {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
    }
}

#[derive(Clone, Copy)]
struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // Jackson's ACCEPT_FLOAT_AS_INT: the fraction is dropped.
        if v.is_finite() && v.abs() < 9.2e18 {
            Ok(v.trunc() as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let t = v.trim();
        t.parse::<i64>()
            .or_else(|_| {
                t.parse::<f64>()
                    .map_err(|_| ())
                    .and_then(|f| self.visit_f64::<E>(f).map_err(|_| ()))
            })
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl Lenient for i64 {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

/// Types read exactly as serde reads them.
macro_rules! strict {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::representation::lenient::Lenient for $t {
            fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t as serde::Deserialize>::deserialize(d)
            }
        })*
    };
}
pub(crate) use strict;

// Strings stay strict: a number where a name belongs (`{"username": 5}`) is refused, as the
// Admin API has answered so far.
strict!(serde_json::Value, String);

impl<T: DeserializeOwned> Lenient for Vec<T> {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d)
    }
}

impl<V: DeserializeOwned> Lenient for indexmap::IndexMap<String, V> {
    fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        indexmap::IndexMap::<String, V>::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(default, deserialize_with = "super::opt")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "super::opt")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "super::opt")]
        s: Option<String>,
    }

    fn t(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn scalars_are_coerced_as_jackson_does() {
        let v = t(r#"{"b":"TRUE","n":"300","s":"x"}"#).unwrap();
        assert_eq!(
            (v.b, v.n, v.s.as_deref()),
            (Some(true), Some(300), Some("x"))
        );
        let v = t(r#"{"b":0,"n":300.7}"#).unwrap();
        assert_eq!((v.b, v.n), (Some(false), Some(300)));
        let v = t(r#"{"b":null,"n":null}"#).unwrap();
        assert_eq!((v.b, v.n, v.s), (None, None, None));
        assert_eq!(t("{}").unwrap().b, None);
    }

    #[test]
    fn what_is_no_scalar_of_the_type_is_refused_naming_it() {
        let e = t(r#"{"b":"yes"}"#).unwrap_err().to_string();
        assert!(e.contains("a boolean"), "{e}");
        let e = t(r#"{"n":"five"}"#).unwrap_err().to_string();
        assert!(e.contains("an integer"), "{e}");
        assert!(t(r#"{"n":[1]}"#).is_err());
        assert!(t(r#"{"s":{}}"#).is_err());
        assert!(t(r#"{"s":5}"#).is_err(), "strings stay strict");
    }
}

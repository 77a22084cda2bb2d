//! Request bodies and their nested objects (`expect`, `history`) accepted only as JSON objects.
//! serde's derived struct visitors also take a sequence, field by field in declaration order,
//! so `"history": [7]` would silently mean `{"keep_days": 7}` and a pause body `[null, null]`
//! an empty pause; these refuse it, naming the field, while errors inside an object keep their
//! full path (`history.keep_days`).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A whole request body whose structs are read from maps only (see [`crate::api::extract::parse_json`]).
pub(crate) struct ObjectBody<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectBody<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ObjectBody<T>, D::Error> {
        T::deserialize(MapsOnly(d)).map(ObjectBody)
    }
}

/// Deserializes an optional struct from a map only; `null` or absent is `None`.
pub(crate) fn object_only<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(OptionalObject(PhantomData))
}

struct OptionalObject<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionalObject<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        T::deserialize(MapsOnly(d)).map(Some)
    }
}

/// A deserializer that reads a struct as a map, so the struct's visitor never sees a sequence.
struct MapsOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapsOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(ObjectVisitor(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The struct's own visitor, offered only a map, and named for the API's readers (`expected
/// an object`, not a Rust type name).
struct ObjectVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        a: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        #[serde(default, deserialize_with = "super::object_only")]
        inner: Option<Inner>,
    }

    fn parse(v: serde_json::Value) -> Result<Outer, String> {
        serde_path_to_error::deserialize(v).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn objects_null_and_absence_are_taken() {
        assert_eq!(
            parse(json!({"inner": {"a": 7}})),
            Ok(Outer {
                inner: Some(Inner { a: Some(7) })
            })
        );
        assert_eq!(parse(json!({"inner": null})), Ok(Outer { inner: None }));
        assert_eq!(parse(json!({})), Ok(Outer { inner: None }));
    }

    #[test]
    fn a_sequence_is_refused_and_inner_errors_keep_their_path() {
        let seq = parse(json!({"inner": [7]})).expect_err("a sequence");
        assert_eq!(seq, "inner: invalid type: sequence, expected an object");
        let inner = parse(json!({"inner": {"a": "7"}})).expect_err("a string");
        assert!(
            inner.starts_with("inner.a: invalid type: string"),
            "{inner}"
        );
    }
}

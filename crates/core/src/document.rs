//! Deserialising top-level documents while keeping unknown fields.
//!
//! `#[serde(flatten)]` would keep them too, but it makes serde buffer the whole document into an
//! intermediate tree first, which doubled the cost of reading a 10,000-benchmark run. This macro
//! writes the map visitor by hand instead: known fields are parsed straight into their types,
//! unknown ones into `extra`.

/// Implements `Deserialize` for a struct with an `extra: BTreeMap<String, serde_json::Value>`
/// field. `required` fields must be present; `optional` ones default when absent.
macro_rules! deserialize_keeping_unknown_fields {
    ($ty:ident, $expecting:literal, required: [$($req:ident),* $(,)?], optional: [$($opt:ident),* $(,)?]) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $req = None;)*
                        $(let mut $opt = None;)*
                        let mut extra = std::collections::BTreeMap::new();
                        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                            match key.as_ref() {
                                $(stringify!($req) => {
                                    if $req.is_some() {
                                        return Err(serde::de::Error::duplicate_field(stringify!($req)));
                                    }
                                    $req = Some(map.next_value()?);
                                })*
                                $(stringify!($opt) => {
                                    if $opt.is_some() {
                                        return Err(serde::de::Error::duplicate_field(stringify!($opt)));
                                    }
                                    $opt = Some(map.next_value()?);
                                })*
                                _ => {
                                    let value: serde_json::Value = map.next_value()?;
                                    extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok($ty {
                            $($req: $req.ok_or_else(|| serde::de::Error::missing_field(stringify!($req)))?,)*
                            $($opt: $opt.unwrap_or_default(),)*
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
    };
}

pub(crate) use deserialize_keeping_unknown_fields;

//! A report row as named cells, read through its `Serialize` derive: the
//! table and CSV renderers get every column's name and typed value from the
//! same derive that JSON uses, so no list of columns is written twice.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::values::{BYTES, TIME};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Text.
    Text(String),
    /// A whole number (a count).
    Int(i128),
    /// A number with a fraction (seconds, a share).
    Float(f64),
    /// True or false.
    Bool(bool),
    /// An instant, RFC 3339 UTC with milliseconds.
    Time(String),
    /// A byte sum.
    Bytes(i128),
}

/// The cells of `row`, in field order, named as its fields are.
pub fn cells<R: Serialize>(row: &R) -> Result<Vec<(&'static str, Cell)>, NotARow> {
    row.serialize(RowSerializer)
}

/// The column names of `R`, read from its default value.
pub fn names<R: Serialize + Default>() -> Vec<&'static str> {
    cells(&R::default())
        .map(|cells| cells.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default()
}

/// The value was not a struct of plain values.
#[derive(Debug)]
pub struct NotARow(String);

impl fmt::Display for NotARow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a report row: {}", self.0)
    }
}

impl std::error::Error for NotARow {}

impl ser::Error for NotARow {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NotARow(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, NotARow> {
    Err(NotARow(format!("{what} is not a column value")))
}

struct RowSerializer;

struct Fields(Vec<(&'static str, Cell)>);

impl ser::SerializeStruct for Fields {
    type Ok = Vec<(&'static str, Cell)>;
    type Error = NotARow;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), NotARow> {
        self.0.push((key, value.serialize(CellSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Self::Ok, NotARow> {
        Ok(self.0)
    }
}

/// Implements every method of a serializer that is not a row or a cell.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ok:ty;)*) => {
        $(fn $method(self $(, _: $arg)*) -> Result<$ok, NotARow> {
            unsupported(stringify!($method))
        })*
    };
}

/// Refuses what neither a row nor a cell can be: bytes, unit structs and
/// every container but a struct.
macro_rules! refuse_containers {
    () => {
        refuse! {
            serialize_bytes(&[u8]) -> Self::Ok;
            serialize_unit_struct(&'static str) -> Self::Ok;
            serialize_seq(Option<usize>) -> Self::SerializeSeq;
            serialize_tuple(usize) -> Self::SerializeTuple;
            serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
            serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
            serialize_map(Option<usize>) -> Self::SerializeMap;
            serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
        }
    };
}

/// Implements the methods of a cell serializer that widen a number into a
/// variant of [`Cell`].
macro_rules! cells {
    ($($method:ident($arg:ty) => $variant:ident;)*) => {
        $(fn $method(self, v: $arg) -> Result<Cell, NotARow> {
            Ok(Cell::$variant(v.into()))
        })*
    };
}

impl ser::Serializer for RowSerializer {
    type Ok = Vec<(&'static str, Cell)>;
    type Error = NotARow;
    type SerializeSeq = Impossible<Self::Ok, NotARow>;
    type SerializeTuple = Impossible<Self::Ok, NotARow>;
    type SerializeTupleStruct = Impossible<Self::Ok, NotARow>;
    type SerializeTupleVariant = Impossible<Self::Ok, NotARow>;
    type SerializeMap = Impossible<Self::Ok, NotARow>;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Self::Ok, NotARow>;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Fields, NotARow> {
        Ok(Fields(Vec::with_capacity(len)))
    }

    refuse! {
        serialize_bool(bool) -> Self::Ok;
        serialize_i8(i8) -> Self::Ok;
        serialize_i16(i16) -> Self::Ok;
        serialize_i32(i32) -> Self::Ok;
        serialize_i64(i64) -> Self::Ok;
        serialize_u8(u8) -> Self::Ok;
        serialize_u16(u16) -> Self::Ok;
        serialize_u32(u32) -> Self::Ok;
        serialize_u64(u64) -> Self::Ok;
        serialize_f32(f32) -> Self::Ok;
        serialize_f64(f64) -> Self::Ok;
        serialize_char(char) -> Self::Ok;
        serialize_str(&str) -> Self::Ok;
        serialize_none() -> Self::Ok;
        serialize_unit() -> Self::Ok;
        serialize_unit_variant(&'static str, u32, &'static str) -> Self::Ok;
    }
    refuse_containers!();

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Self::Ok, NotARow> {
        unsupported("an option")
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Self::Ok, NotARow> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, NotARow> {
        unsupported("an enum")
    }
}

struct CellSerializer;

impl ser::Serializer for CellSerializer {
    type Ok = Cell;
    type Error = NotARow;
    type SerializeSeq = Impossible<Cell, NotARow>;
    type SerializeTuple = Impossible<Cell, NotARow>;
    type SerializeTupleStruct = Impossible<Cell, NotARow>;
    type SerializeTupleVariant = Impossible<Cell, NotARow>;
    type SerializeMap = Impossible<Cell, NotARow>;
    type SerializeStruct = Impossible<Cell, NotARow>;
    type SerializeStructVariant = Impossible<Cell, NotARow>;

    fn serialize_bool(self, v: bool) -> Result<Cell, NotARow> {
        Ok(Cell::Bool(v))
    }

    // Every integer type is a whole number; every float a fraction.
    cells! {
        serialize_i8(i8) => Int;
        serialize_i16(i16) => Int;
        serialize_i32(i32) => Int;
        serialize_i64(i64) => Int;
        serialize_i128(i128) => Int;
        serialize_u8(u8) => Int;
        serialize_u16(u16) => Int;
        serialize_u32(u32) => Int;
        serialize_u64(u64) => Int;
        serialize_f32(f32) => Float;
        serialize_f64(f64) => Float;
    }

    fn serialize_char(self, v: char) -> Result<Cell, NotARow> {
        Ok(Cell::Text(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Cell, NotARow> {
        Ok(Cell::Text(v.to_owned()))
    }
    fn serialize_none(self) -> Result<Cell, NotARow> {
        Ok(Cell::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Cell, NotARow> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Cell, NotARow> {
        Ok(Cell::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Cell, NotARow> {
        Ok(Cell::Text(variant.to_owned()))
    }

    /// [`Time`](crate::Time) and [`Bytes`](crate::Bytes) name themselves so
    /// that a table can show them as people read them.
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Cell, NotARow> {
        match (name, value.serialize(CellSerializer)?) {
            (TIME, Cell::Text(text)) => Ok(Cell::Time(text)),
            (BYTES, Cell::Int(n)) => Ok(Cell::Bytes(n)),
            (_, cell) => Ok(cell),
        }
    }

    refuse_containers!();
    refuse! {
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Cell, NotARow> {
        unsupported("an enum with data")
    }
}

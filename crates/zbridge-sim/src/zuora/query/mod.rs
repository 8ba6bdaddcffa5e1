//! The query languages: Data Query SQL, Export ZOQL and ZOQL, really executed over the data.

pub mod exec;
pub mod parse;

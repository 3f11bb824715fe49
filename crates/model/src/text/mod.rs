//! Text encoders shared by the families: the BERT encoder of VideoCLIP's text tower
//! ([`bert`]), the sentence encoder for searching subtitles by meaning ([`minilm`],
//! all-MiniLM-L6-v2) and the bert-base-uncased WordPiece tokenizer ([`tokenizer`]).

pub(crate) mod bert;
pub mod minilm;
pub mod tokenizer;

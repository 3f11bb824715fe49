//! The bert-base-uncased WordPiece tokenizer of VideoCLIP's text tower.
//!
//! Paper: Devlin et al., BERT (2019); VideoCLIP (arXiv 2109.14084) tokenises with HF's fast
//! `bert-base-uncased` tokenizer, `add_special_tokens=False`, and lays out the specials itself
//! (`fairseq/examples/MMPT/mmpt/processors/processor.py`; spec `docs/model-notes.md` §3.2,
//! §7). Weights: the 30,522-line `vocab.txt` of bert-base-uncased, stored in the model directory.
//!
//! Built with the `tokenizers` crate from `vocab.txt` alone, as HF's `BertWordPieceTokenizer`:
//! BERT normaliser (clean text, CJK spacing, lower-case + accent stripping), BERT
//! pre-tokeniser (whitespace and punctuation), WordPiece with `##` continuations, `[UNK]` for
//! words it cannot split and for words over 100 characters.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;

use crate::error::{Error, Result};
use crate::videoclip::{text_batch, CLS_ID, PAD_ID, SEP_ID, UNK_ID};

/// Content tokens per text in VideoCLIP (63 with `[CLS]` and `[SEP]`).
pub const MAX_CONTENT_TOKENS: usize = 61;

/// WordPiece tokenizer of bert-base-uncased (or any BERT-style `vocab.txt`).
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    vocab_size: usize,
}

impl Tokenizer {
    /// Builds the tokenizer from a BERT `vocab.txt` (one token per line, id = line number).
    /// The special tokens must sit at bert-base-uncased's ids (`[PAD]`=0, `[UNK]`=100, `[CLS]`=101,
    /// `[SEP]`=102), which VideoCLIP's layouts hard-code.
    pub fn from_vocab(path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Tokenizer {
            path: path.to_owned(),
            reason,
        };
        let path_str = path
            .to_str()
            .ok_or_else(|| fail("the path is not valid UTF-8".into()))?;
        if !path.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let vocab = WordPiece::read_file(path_str).map_err(|e| fail(e.to_string()))?;
        for (token, id) in [
            ("[PAD]", PAD_ID),
            ("[UNK]", UNK_ID),
            ("[CLS]", CLS_ID),
            ("[SEP]", SEP_ID),
        ] {
            if vocab.get(token) != Some(&id) {
                return Err(fail(format!("{token} is not at id {id}")));
            }
        }
        let vocab_size = vocab.len();
        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix("##".into())
            .max_input_chars_per_word(100)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(model);
        inner
            .with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
            .map_err(|e| fail(e.to_string()))?;
        inner.with_pre_tokenizer(Some(BertPreTokenizer));
        Ok(Self {
            inner,
            path: path.to_owned(),
            vocab_size,
        })
    }

    /// Number of tokens in the vocabulary (30,522 for bert-base-uncased).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// WordPiece ids of `text` without special tokens, truncated to 61 (VideoCLIP's limit).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_up_to(text, MAX_CONTENT_TOKENS)
    }

    /// WordPiece ids of `text` without special tokens, truncated to `max` tokens.
    pub fn encode_up_to(&self, text: &str, max: usize) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let mut ids = enc.get_ids().to_vec();
        ids.truncate(max);
        Ok(ids)
    }

    /// Tokenises and lays out a batch for the text tower: `[CLS] t.. [SEP] [PAD]..`, padded to
    /// the longest text (or to `max_text_len` = 63 when `pad_to_max`). Returns
    /// `(ids (B, L) u32, mask (B, L) u8)`.
    pub fn batch(
        &self,
        texts: &[&str],
        max_text_len: usize,
        pad_to_max: bool,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let ids = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        text_batch(&ids, max_text_len, pad_to_max, device)
    }
}

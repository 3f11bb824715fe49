//! The text index: tantivy BM25 over subtitle cues, file names, folder names and titles.
//!
//! One document per searchable piece of text: `(video_id, start_s, end_s, kind, text)`. Names,
//! folders and titles span the whole video (`0..duration`). Replacing a video's documents is
//! a delete-by-`video_id` plus adds in one tantivy commit, so a search sees either the old
//! set or the new one. The index lives in `LIBRARY/text/` and is rebuilt from the catalogue
//! if lost.

use std::ops::Range;
use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{Error, Result};

/// Name of the analyzer of the `text` field: words, lower-cased, English stop words removed
/// ("the", "a", "of" match everything and would tie unrelated cues), English stemming
/// ("whisking" finds "whisk").
const ANALYZER: &str = "vclip_en";

fn analyzer() -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    match StopWordFilter::new(Language::English) {
        Some(stop) => builder
            .filter(stop)
            .filter(Stemmer::new(Language::English))
            .build(),
        None => builder.filter(Stemmer::new(Language::English)).build(),
    }
}

/// The distinct terms of `text` after analysis.
fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        if !out.contains(&t.text) {
            out.push(t.text.clone());
        }
    }
    out
}

/// Heap for the tantivy writer (it flushes a segment when full).
const WRITER_HEAP: usize = 32 * 1024 * 1024;

/// What a text document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A subtitle or transcript cue.
    Subtitle,
    /// Text read off the picture (an on-screen text cue).
    Screen,
    /// The file name.
    Name,
    /// A folder name on the path.
    Folder,
    /// The container title.
    Title,
}

impl TextKind {
    /// The stored label.
    pub fn as_str(self) -> &'static str {
        match self {
            TextKind::Subtitle => "subtitle",
            TextKind::Screen => "screen",
            TextKind::Name => "name",
            TextKind::Folder => "folder",
            TextKind::Title => "title",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "subtitle" => TextKind::Subtitle,
            "screen" => TextKind::Screen,
            "name" => TextKind::Name,
            "folder" => TextKind::Folder,
            "title" => TextKind::Title,
            _ => return None,
        })
    }
}

/// A document to index.
#[derive(Debug, Clone, PartialEq)]
pub struct TextDoc {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// What it is.
    pub kind: TextKind,
    /// The text.
    pub text: String,
}

/// A fragment of the matched text with the matched words located.
#[derive(Debug, Clone, PartialEq)]
pub struct Snippet {
    /// The fragment (plain text).
    pub text: String,
    /// Byte ranges of `text` that matched the query.
    pub highlights: Vec<Range<usize>>,
}

impl Snippet {
    /// The fragment with every match wrapped in `open` … `close` (e.g. `[` `]`).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut at = 0;
        for r in &self.highlights {
            if r.start < at || r.end > self.text.len() {
                continue;
            }
            out.push_str(&self.text[at..r.start]);
            out.push_str(open);
            out.push_str(&self.text[r.clone()]);
            out.push_str(close);
            at = r.end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// One BM25 hit.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    /// The video.
    pub video_id: i64,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// What matched.
    pub kind: TextKind,
    /// BM25 score.
    pub score: f32,
    /// Fraction of the query's distinct words (after stop words and stemming) that the
    /// document contains: 1.0 when every word the user typed is there.
    pub coverage: f32,
    /// The matched text with the query words located.
    pub snippet: Snippet,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    video_id: Field,
    start_s: Field,
    end_s: Field,
    kind: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        video_id: b.add_i64_field("video_id", INDEXED | STORED | FAST),
        start_s: b.add_f64_field("start_s", STORED),
        end_s: b.add_f64_field("end_s", STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        text: b.add_text_field(
            "text",
            TextOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(ANALYZER)
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions),
                )
                .set_stored(),
        ),
    };
    (b.build(), f)
}

/// The tantivy index of a library.
pub struct TextIndex {
    dir: PathBuf,
    index: Index,
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex").field("dir", &self.dir).finish()
    }
}

impl TextIndex {
    /// Opens the index in `dir`, creating it if the folder is empty.
    pub fn open(dir: &Path) -> Result<Self> {
        let err = |e: tantivy::TantivyError| Error::text_index(dir, e);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mmap = MmapDirectory::open(dir).map_err(|e| Error::text_index(dir, e))?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(mmap, schema).map_err(err)?;
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = index.writer(WRITER_HEAP).map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
            writer,
            reader,
            fields,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::text_index(&self.dir, e)
    }

    /// Replaces every document of `video_id` with `docs`, in one commit.
    pub fn replace_video(&mut self, video_id: i64, docs: &[TextDoc]) -> Result<()> {
        let f = self.fields;
        self.writer
            .delete_term(Term::from_field_i64(f.video_id, video_id));
        for d in docs {
            self.writer
                .add_document(doc!(
                    f.video_id => video_id,
                    f.start_s => d.start_s,
                    f.end_s => d.end_s,
                    f.kind => d.kind.as_str(),
                    f.text => d.text.as_str(),
                ))
                .map_err(|e| self.err(e))?;
        }
        self.commit()
    }

    /// Deletes every document of `video_id`.
    pub fn delete_video(&mut self, video_id: i64) -> Result<()> {
        self.writer
            .delete_term(Term::from_field_i64(self.fields.video_id, video_id));
        self.commit()
    }

    /// Deletes every document (before a rebuild from the catalogue).
    pub fn delete_all(&mut self) -> Result<()> {
        self.writer
            .delete_all_documents()
            .map_err(|e| self.err(e))?;
        self.commit()
    }

    fn commit(&mut self) -> Result<()> {
        self.writer.commit().map_err(|e| self.err(e))?;
        self.reader.reload().map_err(|e| self.err(e))
    }

    /// BM25 search, best first. Query syntax errors are forgiven: a query tantivy cannot parse
    /// is searched as its plain words, so a stray quote or colon never fails a search.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<TextHit>> {
        if limit == 0 || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let parser = QueryParser::for_index(&self.index, vec![f.text]);
        let (mut q, errors) = parser.parse_query_lenient(query);
        if !errors.is_empty() {
            // Lenient parsing drops the parts it cannot read (`said:` reads as an unknown
            // field). A user typed words, not syntax: search the words alone instead.
            let words: String = query
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect();
            q = parser.parse_query_lenient(&words).0;
        }
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&q, &TopDocs::with_limit(limit).order_by_score())
            .map_err(|e| self.err(e))?;
        let mut gen = SnippetGenerator::create(&searcher, &*q, f.text).map_err(|e| self.err(e))?;
        let mut an = analyzer();
        let query_terms = terms(&mut an, query);
        gen.set_max_num_chars(200);
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(|e| self.err(e))?;
            let corrupt = |what: &str| Error::Corrupt {
                path: self.dir.clone(),
                reason: format!("text document without a valid {what}"),
            };
            let video_id = d
                .get_first(f.video_id)
                .and_then(|v| v.as_i64())
                .ok_or_else(|| corrupt("video_id"))?;
            let start_s = d
                .get_first(f.start_s)
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            let end_s = d
                .get_first(f.end_s)
                .and_then(|v| v.as_f64())
                .unwrap_or(start_s);
            let kind = d
                .get_first(f.kind)
                .and_then(|v| v.as_str())
                .and_then(TextKind::parse)
                .ok_or_else(|| corrupt("kind"))?;
            let full = d.get_first(f.text).and_then(|v| v.as_str()).unwrap_or("");
            let doc_terms = terms(&mut an, full);
            let shared = query_terms.iter().filter(|t| doc_terms.contains(t)).count();
            let coverage = shared as f32 / query_terms.len().max(1) as f32;
            let s = gen.snippet_from_doc(&d);
            let mut snippet = Snippet {
                text: s.fragment().to_string(),
                highlights: s.highlighted().to_vec(),
            };
            if snippet.text.is_empty() {
                // No highlight (e.g. the match came from a phrase the generator skips):
                // show the start of the text instead of nothing.
                snippet.text = full.chars().take(200).collect();
            }
            out.push(TextHit {
                video_id,
                start_s,
                end_s,
                kind,
                score,
                coverage,
                snippet,
            });
        }
        Ok(out)
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_s: f64, end_s: f64, text: &str) -> TextDoc {
        TextDoc {
            start_s,
            end_s,
            kind: TextKind::Subtitle,
            text: text.into(),
        }
    }

    #[test]
    fn bm25_finds_cue_with_time_and_marked_snippet() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TextIndex::open(dir.path()).unwrap();
        t.replace_video(
            1,
            &[
                cue(0.0, 3.0, "first we crack the eggs"),
                cue(42.0, 57.0, "now whisk the eggs until fluffy"),
                TextDoc {
                    start_s: 0.0,
                    end_s: 60.0,
                    kind: TextKind::Name,
                    text: "omelette.mp4".into(),
                },
            ],
        )
        .unwrap();
        t.replace_video(2, &[cue(5.0, 9.0, "tighten the bolt")])
            .unwrap();
        let hits = t.search("whisk", 10).unwrap();
        assert_eq!(hits.len(), 1);
        let h = &hits[0];
        assert_eq!((h.video_id, h.start_s, h.end_s), (1, 42.0, 57.0));
        assert_eq!(h.kind, TextKind::Subtitle);
        assert!(h.score > 0.0);
        assert!(h.snippet.marked("[", "]").contains("[whisk]"), "{h:?}");
        let bolt = t.search("Bolt", 10).unwrap();
        assert_eq!(bolt[0].video_id, 2);
        assert_eq!(t.search("omelette", 10).unwrap()[0].kind, TextKind::Name);
    }

    #[test]
    fn stop_words_do_not_match_and_stems_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TextIndex::open(dir.path()).unwrap();
        t.replace_video(1, &[cue(20.0, 23.0, "whisk the eggs until fluffy")])
            .unwrap();
        t.replace_video(2, &[cue(2.0, 4.0, "the quick brown fox")])
            .unwrap();
        let hits = t.search("whisking the egg", 10).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].video_id, 1);
        assert_eq!(hits[0].coverage, 1.0);
        let half = t.search("brown bear", 10).unwrap();
        assert_eq!(half[0].coverage, 0.5);
        t.delete_all().unwrap();
        assert_eq!(t.num_docs(), 0);
    }

    #[test]
    fn replace_and_delete_by_video_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = TextIndex::open(dir.path()).unwrap();
            t.replace_video(1, &[cue(0.0, 1.0, "alpha")]).unwrap();
            t.replace_video(1, &[cue(0.0, 1.0, "beta")]).unwrap();
            t.replace_video(2, &[cue(0.0, 1.0, "alpha beta")]).unwrap();
            t.delete_video(2).unwrap();
        }
        let t = TextIndex::open(dir.path()).unwrap();
        assert_eq!(t.num_docs(), 1);
        assert!(t.search("alpha", 10).unwrap().is_empty());
        assert_eq!(t.search("beta", 10).unwrap()[0].video_id, 1);
    }

    #[test]
    fn malformed_queries_do_not_fail() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TextIndex::open(dir.path()).unwrap();
        t.replace_video(1, &[cue(0.0, 1.0, "he said: \"go\"")])
            .unwrap();
        for q in ["\"unbalanced", "a:b", "(((", "", "   ", "AND"] {
            t.search(q, 5).unwrap();
        }
        assert_eq!(t.search("said:", 5).unwrap().len(), 1);
    }
}

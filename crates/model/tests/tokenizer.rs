//! The WordPiece tokenizer: the fixture vocabulary always, bert-base-uncased's `vocab.txt` when
//! available (`VCLIP_TEST_VOCAB`, or `.cache/bert-base-uncased/vocab.txt` at the workspace root,
//! as `scripts/fetch-test-assets.sh` places it; with `VCLIP_REQUIRE_TEST_ASSETS` set, a missing
//! file fails the test instead of skipping it). Expected ids were computed with an independent
//! greedy longest-match WordPiece in Python over the same vocab.

use anyhow::Result;
use candle_core::Device;
use vclip_model::Tokenizer;

use crate::common::fixtures;

#[test]
fn fixture_vocab_splits_words_and_lays_out_specials() -> Result<()> {
    let tok = Tokenizer::from_vocab(&fixtures().join("tiny/vocab.txt"))?;
    // how=109 to=106 make=110 pan=113 ##cake=180 ##s=170 .=126 (tools/make_fixtures.py)
    let ids = tok.encode("How to make PANCAKES.")?;
    assert_eq!(ids, vec![109, 106, 110, 113, 180, 170, 126]);
    let (ids, mask) = tok.batch(&["how", ""], 63, false, &Device::Cpu)?;
    assert_eq!(
        ids.to_vec2::<u32>()?,
        vec![vec![101, 109, 102], vec![101, 102, 0]]
    );
    assert_eq!(mask.to_vec2::<u8>()?, vec![vec![1, 1, 1], vec![1, 1, 0]]);
    let (ids, _) = tok.batch(&["how"], 63, true, &Device::Cpu)?;
    assert_eq!(ids.dims(), &[1, 63]);
    Ok(())
}

#[test]
fn long_texts_keep_61_content_tokens() -> Result<()> {
    let tok = Tokenizer::from_vocab(&fixtures().join("tiny/vocab.txt"))?;
    let long = "egg ".repeat(100);
    assert_eq!(tok.encode(&long)?.len(), 61);
    let (ids, mask) = tok.batch(&[long.as_str()], 63, false, &Device::Cpu)?;
    let ids = ids.to_vec2::<u32>()?;
    assert_eq!(ids[0].len(), 63);
    assert_eq!(ids[0][62], 102);
    assert!(mask.to_vec2::<u8>()?[0].iter().all(|m| *m == 1));
    Ok(())
}

#[test]
fn bad_vocab_is_an_error_naming_the_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("vocab.txt");
    std::fs::write(&path, "[PAD]\nhello\n")?;
    let err = Tokenizer::from_vocab(&path).err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("vocab.txt"), "{msg}");
    Ok(())
}

#[test]
fn bert_base_uncased_ids() -> Result<()> {
    let Some(vocab) = vclip_testkit::bert_vocab() else {
        return Ok(());
    };
    let tok = Tokenizer::from_vocab(&vocab)?;
    assert_eq!(tok.vocab_size(), 30522);
    let cases: [(&str, &[u32]); 5] = [
        ("Hello, world!", &[7592, 1010, 2088, 999]),
        ("How to make pancakes", &[2129, 2000, 2191, 28470]),
        (
            "Crème brûlée: caramelise the sugar.",
            &[
                13675, 21382, 7987, 9307, 2063, 1024, 14418, 10199, 5562, 1996, 5699, 1012,
            ],
        ),
        (
            "unaffable xyzzyqq",
            &[14477, 20961, 3468, 1060, 2100, 28753, 4160, 4160],
        ),
        ("it's 3:45pm", &[2009, 1005, 1055, 1017, 1024, 3429, 9737]),
    ];
    for (text, want) in cases {
        assert_eq!(tok.encode(text)?, want, "{text}");
    }
    Ok(())
}

//! Readers for PyTorch `torch.save` files, both serialisations, without Python.
//!
//! Needed for the released weights (spec `docs/model-notes.md` §1.5, §3.5, §8.3):
//! - VideoCLIP `checkpoint_best.pt` (Xu et al. 2021, `fairseq/examples/MMPT`): the zip format
//!   (`<name>/data.pkl` + `<name>/data/<key>` blobs), a fairseq checkpoint whose fp16 state dict
//!   sits under `model` next to pickled argparse Namespaces, enums and optimizer state;
//! - S3D `s3d_howto100m.pth` (Miech et al. 2020, `antoine77340/S3D_HowTo100M`), saved in early 2020
//!   and therefore possibly in the legacy non-zip format: five pickles in one stream (magic
//!   number, protocol 1001, sys_info, the object with persistent storage ids, the storage keys),
//!   then each storage as an int64 element count and raw little-endian bytes.
//!
//! The pickles are parsed with candle's small unpickler (`candle_core::pickle::Stack`), which
//! keeps unknown classes (Namespace, enums, numpy scalars) as generic objects. Tensors are
//! rebuilt here from `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`,
//! including non-contiguous ones (HF's stride-0 `position_ids`), so every tensor comes back
//! contiguous, on the CPU, in its stored dtype.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// Magic number of the legacy format (`torch.serialization.MAGIC_NUMBER`).
const LEGACY_MAGIC: u128 = 0x1950a86a20f9469cfc6c;
/// `PROTOCOL_VERSION` of the legacy format.
const LEGACY_PROTOCOL: i64 = 1001;

/// The serialisation of a PyTorch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PthFormat {
    /// PyTorch >= 1.6 default: a zip archive.
    Zip,
    /// `_use_new_zipfile_serialization=False` and PyTorch < 1.6: concatenated pickles + storages.
    Legacy,
}

/// Which format `path` is in, from its first bytes.
pub fn detect_format(path: &Path) -> Result<PthFormat> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    match head {
        [b'P', b'K', 3, 4] => Ok(PthFormat::Zip),
        [0x80, 2, 0x8a, 10] => Ok(PthFormat::Legacy),
        _ => Err(Error::checkpoint(
            path,
            "neither a zip archive nor a legacy PyTorch pickle",
        )),
    }
}

/// Reads every tensor of the state dict in `path` (either format). With `key`, the file holds
/// a dict and the state dict is its entry `key` (fairseq checkpoints: `Some("model")`).
/// Entries that are not tensors (e.g. `_metadata`) are skipped. Tensors are returned on the
/// CPU, contiguous, in their stored dtype, in file order.
pub fn read_state_dict(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>> {
    match detect_format(path)? {
        PthFormat::Zip => read_zip(path, key),
        PthFormat::Legacy => read_legacy(path, key),
    }
}

/// A tensor as the pickle describes it.
#[derive(Debug, Clone)]
struct TensorRef {
    name: String,
    storage_key: String,
    dtype: DType,
    /// Offset in elements into the storage (view offset included).
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

/// Runs candle's unpickler on one pickle of `r`. Its decoder can panic on malformed input
/// (e.g. a LONG1 wider than 8 bytes); a panic is turned into an error naming the file.
fn unpickle<R: BufRead>(path: &Path, r: &mut R, what: &str) -> Result<Object> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut stack = Stack::empty();
        stack.read_loop(r)?;
        stack.finalize()
    }));
    match result {
        Ok(Ok(obj)) => Ok(obj),
        Ok(Err(e)) => Err(Error::checkpoint(path, format!("{what}: {e}"))),
        Err(_) => Err(Error::checkpoint(path, format!("{what}: malformed pickle"))),
    }
}

fn dtype_of_storage(path: &Path, class: &str) -> Result<DType> {
    Ok(match class {
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "DoubleStorage" => DType::F64,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "ByteStorage" | "BoolStorage" => DType::U8,
        other => {
            return Err(Error::checkpoint(
                path,
                format!("unsupported storage type `{other}`"),
            ))
        }
    })
}

fn as_usize(path: &Path, obj: &Object, what: &str) -> Result<usize> {
    match obj {
        Object::Int(i) if *i >= 0 => Ok(*i as usize),
        Object::Long(i) if *i >= 0 => Ok(*i as usize),
        other => Err(Error::checkpoint(
            path,
            format!("{what}: expected a non-negative integer, got {other:?}"),
        )),
    }
}

fn as_usizes(path: &Path, obj: &Object, what: &str) -> Result<Vec<usize>> {
    match obj {
        Object::Tuple(items) | Object::List(items) => {
            items.iter().map(|o| as_usize(path, o, what)).collect()
        }
        other => Err(Error::checkpoint(
            path,
            format!("{what}: expected a tuple, got {other:?}"),
        )),
    }
}

fn as_str<'a>(path: &Path, obj: &'a Object, what: &str) -> Result<&'a str> {
    match obj {
        Object::Unicode(s) => Ok(s),
        other => Err(Error::checkpoint(
            path,
            format!("{what}: expected a string, got {other:?}"),
        )),
    }
}

/// `Some(TensorRef)` if `value` is a pickled tensor, `None` for other objects.
fn tensor_ref(path: &Path, name: &str, value: &Object) -> Result<Option<TensorRef>> {
    let Object::Reduce { callable, args } = value else {
        return Ok(None);
    };
    let (callable, args) = match (callable.as_ref(), args.as_ref()) {
        // nn.Parameter: _rebuild_parameter(tensor, requires_grad, hooks)
        (
            Object::Class {
                module_name,
                class_name,
            },
            Object::Tuple(a),
        ) if module_name == "torch._utils" && class_name == "_rebuild_parameter" => {
            match a.first() {
                Some(Object::Reduce { callable, args }) => (callable.as_ref(), args.as_ref()),
                _ => return Ok(None),
            }
        }
        (c, a) => (c, a),
    };
    match callable {
        Object::Class {
            module_name,
            class_name,
        } if module_name == "torch._utils" && class_name == "_rebuild_tensor_v2" => {}
        _ => return Ok(None),
    }
    let Object::Tuple(args) = args else {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{name}`: bad rebuild arguments"),
        ));
    };
    if args.len() < 4 {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{name}`: bad rebuild arguments"),
        ));
    }
    // Persistent id: ('storage', StorageClass, key, location, numel[, view_metadata])
    let Object::PersistentLoad(pid) = &args[0] else {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{name}`: storage is not a persistent id"),
        ));
    };
    let Object::Tuple(pid) = pid.as_ref() else {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{name}`: bad persistent id"),
        ));
    };
    if pid.len() < 5 {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{name}`: bad persistent id"),
        ));
    }
    let class = match &pid[1] {
        Object::Class { class_name, .. } => class_name.as_str(),
        other => {
            return Err(Error::checkpoint(
                path,
                format!("tensor `{name}`: bad storage class {other:?}"),
            ))
        }
    };
    let dtype = dtype_of_storage(path, class)?;
    let storage_key = as_str(path, &pid[2], "storage key")?.to_owned();
    let mut offset = as_usize(path, &args[1], "storage offset")?;
    // Legacy files from old PyTorch versions can reference a view of a storage:
    // view_metadata = (view_key, offset, view_size).
    if let Some(Object::Tuple(view)) = pid.get(5) {
        if view.len() >= 2 {
            offset += as_usize(path, &view[1], "view offset")?;
        }
    }
    Ok(Some(TensorRef {
        name: name.to_owned(),
        storage_key,
        dtype,
        offset,
        size: as_usizes(path, &args[2], "tensor size")?,
        stride: as_usizes(path, &args[3], "tensor stride")?,
    }))
}

/// The tensors of the state dict held by `obj` (or by `obj[key]`).
fn tensor_refs(path: &Path, obj: Object, key: Option<&str>) -> Result<Vec<TensorRef>> {
    let obj = match key {
        None => obj,
        Some(key) => {
            let Object::Dict(items) = obj else {
                return Err(Error::checkpoint(path, "the file does not hold a dict"));
            };
            items
                .into_iter()
                .find(|(k, _)| matches!(k, Object::Unicode(s) if s == key))
                .map(|(_, v)| v)
                .ok_or_else(|| Error::checkpoint(path, format!("no entry `{key}` in the file")))?
        }
    };
    let items = match obj {
        Object::Dict(items) => items,
        // An OrderedDict with attributes set by BUILD that candle did not merge.
        Object::Build { callable, .. } => match *callable {
            Object::Dict(items) => items,
            _ => return Err(Error::checkpoint(path, "the state dict is not a dict")),
        },
        _ => return Err(Error::checkpoint(path, "the state dict is not a dict")),
    };
    let mut refs = Vec::with_capacity(items.len());
    for (k, v) in &items {
        let Object::Unicode(name) = k else { continue };
        if let Some(r) = tensor_ref(path, name, v)? {
            refs.push(r);
        }
    }
    if refs.is_empty() {
        return Err(Error::checkpoint(path, "no tensors in the state dict"));
    }
    Ok(refs)
}

/// Copies the (possibly strided) tensor out of its storage bytes into a contiguous tensor.
fn materialize(path: &Path, r: &TensorRef, storage: &[u8]) -> Result<Tensor> {
    let es = r.dtype.size_in_bytes();
    // Corrupt sizes must not overflow or ask for absurd allocations (stride-0 tensors may
    // legitimately be larger than their storage, so bound the result, not the ratio).
    const MAX_TENSOR_BYTES: usize = 1 << 36;
    let numel = r
        .size
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .filter(|n| n.saturating_mul(es) <= MAX_TENSOR_BYTES)
        .ok_or_else(|| {
            Error::checkpoint(path, format!("tensor `{}` has an absurd size", r.name))
        })?;
    if r.stride.len() != r.size.len() {
        return Err(Error::checkpoint(
            path,
            format!("tensor `{}`: size and stride ranks differ", r.name),
        ));
    }
    let storage_elems = storage.len() / es;
    let oob = || {
        Error::checkpoint(
            path,
            format!("tensor `{}` reaches past the end of its storage", r.name),
        )
    };
    let contiguous = {
        let mut expect = 1;
        let mut ok = true;
        for (d, s) in r.size.iter().zip(&r.stride).rev() {
            if *d != 1 && *s != expect {
                ok = false;
            }
            expect *= d;
        }
        ok
    };
    let bytes: Vec<u8> = if numel == 0 {
        Vec::new()
    } else if contiguous {
        let end = r.offset.checked_add(numel).ok_or_else(oob)?;
        if end > storage_elems {
            return Err(oob());
        }
        storage[r.offset * es..end * es].to_vec()
    } else {
        // Saturating: absurd strides in a corrupt file end up past the storage, an error.
        let last: usize = r
            .size
            .iter()
            .zip(&r.stride)
            .map(|(d, s)| (d - 1).saturating_mul(*s))
            .fold(r.offset, usize::saturating_add);
        if last >= storage_elems {
            return Err(oob());
        }
        let mut out = Vec::with_capacity(numel * es);
        let mut idx = vec![0usize; r.size.len()];
        for _ in 0..numel {
            let off = r.offset + idx.iter().zip(&r.stride).map(|(i, s)| i * s).sum::<usize>();
            out.extend_from_slice(&storage[off * es..(off + 1) * es]);
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < r.size[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        out
    };
    Ok(Tensor::from_raw_buffer(
        &bytes,
        r.dtype,
        &r.size,
        &Device::Cpu,
    )?)
}

fn read_zip(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| Error::checkpoint(path, format!("bad zip archive: {e}")))?;
    let mut pkl = None;
    for name in zip.file_names() {
        let name = name.map_err(|e| Error::checkpoint(path, format!("bad zip entry: {e}")))?;
        if name.ends_with("/data.pkl") || name == "data.pkl" {
            pkl = Some(name.into_owned());
            break;
        }
    }
    let pkl = pkl.ok_or_else(|| Error::checkpoint(path, "no data.pkl in the archive"))?;
    let prefix = pkl.strip_suffix("data.pkl").unwrap_or_default().to_owned();
    let obj = {
        let entry = zip
            .by_name(&pkl)
            .map_err(|e| Error::checkpoint(path, format!("{pkl}: {e}")))?;
        unpickle(path, &mut BufReader::new(entry), "data.pkl")?
    };
    let refs = tensor_refs(path, obj, key)?;
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = Vec::with_capacity(refs.len());
    for r in &refs {
        if !storages.contains_key(&r.storage_key) {
            let name = format!("{prefix}data/{}", r.storage_key);
            let mut entry = zip
                .by_name(&name)
                .map_err(|e| Error::checkpoint(path, format!("{name}: {e}")))?;
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| Error::checkpoint(path, format!("{name}: {e}")))?;
            storages.insert(r.storage_key.clone(), buf);
        }
        let storage = storages
            .get(&r.storage_key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        out.push((r.name.clone(), materialize(path, r, storage)?));
    }
    Ok(out)
}

/// Records the dtype of every storage referenced anywhere in `obj`.
fn storage_dtypes(path: &Path, obj: &Object, out: &mut HashMap<String, DType>) -> Result<()> {
    match obj {
        Object::PersistentLoad(pid) => {
            if let Object::Tuple(pid) = pid.as_ref() {
                if let (Some(Object::Class { class_name, .. }), Some(Object::Unicode(key))) =
                    (pid.get(1), pid.get(2))
                {
                    out.insert(key.clone(), dtype_of_storage(path, class_name)?);
                }
            }
        }
        Object::Tuple(items) | Object::List(items) => {
            for o in items {
                storage_dtypes(path, o, out)?;
            }
        }
        Object::Dict(items) => {
            for (k, v) in items {
                storage_dtypes(path, k, out)?;
                storage_dtypes(path, v, out)?;
            }
        }
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            storage_dtypes(path, callable, out)?;
            storage_dtypes(path, args, out)?;
        }
        _ => {}
    }
    Ok(())
}

fn read_legacy(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::new(file);
    // Pickle 1, the magic number: PROTO 2, LONG1 of 10 bytes, STOP. Read by hand: it does not
    // fit the 64-bit integers of candle's unpickler.
    let mut head = [0u8; 15];
    r.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    let magic = head[4..14]
        .iter()
        .rev()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    if head[..4] != [0x80, 2, 0x8a, 10] || head[14] != b'.' || magic != LEGACY_MAGIC {
        return Err(Error::checkpoint(path, "bad magic number (legacy format)"));
    }
    let protocol = unpickle(path, &mut r, "protocol version")?;
    match protocol {
        Object::Int(p) if i64::from(p) == LEGACY_PROTOCOL => {}
        Object::Long(p) if p == LEGACY_PROTOCOL => {}
        other => {
            return Err(Error::checkpoint(
                path,
                format!("unsupported legacy protocol {other:?}"),
            ))
        }
    }
    let sys_info = unpickle(path, &mut r, "sys_info")?;
    if let Object::Dict(items) = &sys_info {
        let little = items.iter().find_map(|(k, v)| match (k, v) {
            (Object::Unicode(k), Object::Bool(b)) if k == "little_endian" => Some(*b),
            _ => None,
        });
        if little == Some(false) {
            return Err(Error::checkpoint(
                path,
                "big-endian files are not supported",
            ));
        }
    }
    let obj = unpickle(path, &mut r, "state dict")?;
    // Element sizes of every storage in the file, to walk past the ones we do not need.
    let mut dtypes: HashMap<String, DType> = HashMap::new();
    storage_dtypes(path, &obj, &mut dtypes)?;
    let refs = tensor_refs(path, obj, key)?;
    let keys = unpickle(path, &mut r, "storage keys")?;
    let Object::List(keys) = keys else {
        return Err(Error::checkpoint(path, "storage keys are not a list"));
    };
    let wanted: std::collections::HashSet<&str> =
        refs.iter().map(|t| t.storage_key.as_str()).collect();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for k in &keys {
        let k = as_str(path, k, "storage key")?;
        let mut n = [0u8; 8];
        r.read_exact(&mut n).map_err(|e| Error::io(path, e))?;
        let numel = u64::from_le_bytes(n);
        let es = match dtypes.get(k) {
            Some(dt) => dt.size_in_bytes() as u64,
            None => {
                return Err(Error::checkpoint(
                    path,
                    format!("storage `{k}` has no type in the pickle"),
                ))
            }
        };
        let len = numel
            .checked_mul(es)
            .ok_or_else(|| Error::checkpoint(path, "storage size overflows"))?;
        let mut buf = Vec::new();
        (&mut r)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(path, e))?;
        if buf.len() as u64 != len {
            return Err(Error::checkpoint(
                path,
                format!("file ends inside storage `{k}`"),
            ));
        }
        if wanted.contains(k) {
            storages.insert(k.to_owned(), buf);
        }
        if storages.len() == wanted.len() {
            break;
        }
    }
    refs.iter()
        .map(|t| {
            let storage = storages.get(&t.storage_key).ok_or_else(|| {
                Error::checkpoint(path, format!("storage `{}` is missing", t.storage_key))
            })?;
            Ok((t.name.clone(), materialize(path, t, storage)?))
        })
        .collect()
}

//! Named tensors read from one safetensors file, with errors that name the file and the tensor.
//!
//! Used to build S3D-G (`s3d.safetensors`, keys of the released `s3d_howto100m.pth`) and the
//! VideoCLIP towers (`videoclip.safetensors`, keys of `checkpoint_best.pt` without `mmmodel.`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// Tensors of one file, on the compute device, in f32.
#[derive(Debug)]
pub(crate) struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    pub(crate) fn load(path: &Path, device: &Device) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let tensors =
            candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| Error::Weights {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let mut on_device = HashMap::with_capacity(tensors.len());
        for (name, t) in tensors {
            let t = if t.dtype().is_float() {
                t.to_dtype(DType::F32)?
            } else {
                t
            };
            on_device.insert(name, t.to_device(device)?);
        }
        Ok(Self {
            path: path.to_owned(),
            tensors: on_device,
        })
    }

    pub(crate) fn from_map(path: &Path, tensors: HashMap<String, Tensor>) -> Self {
        Self {
            path: path.to_owned(),
            tensors,
        }
    }

    /// Whether a tensor of that name exists.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Every tensor, by name.
    pub(crate) fn tensors(&self) -> &HashMap<String, Tensor> {
        &self.tensors
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor `name`, which must have shape `shape`.
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_owned(),
        })?;
        if t.dims() != shape {
            return Err(Error::TensorShape {
                path: self.path.clone(),
                name: name.to_owned(),
                got: t.dims().to_vec(),
                expected: shape.to_vec(),
            });
        }
        Ok(t.clone())
    }
}

//! Checkpoints: the embedding tables as a burnpack file, written atomically.
//!
//! burnpack (burn's own format, 4 bytes per parameter plus a small header) keeps checkpoints
//! loadable into burn modules; the tensors are named `user` and `item`. Writes go to a
//! temporary file in the same directory and are renamed into place, so a crash never leaves a
//! half-written checkpoint under the final name.

use std::path::Path;

use autosample_data::write_atomic;
use burn::module::{Module, Param};
use burn::tensor::{Bytes, Tensor, TensorData};

use crate::device::plain_device;
use crate::{EmbeddingTable, ModelError, Result};

/// The tables as a burn module, for burnpack I/O.
#[derive(Module, Debug)]
struct Tables {
    user: Param<Tensor<2>>,
    item: Param<Tensor<2>>,
}

fn to_tensor(table: &EmbeddingTable) -> Tensor<2> {
    Tensor::<2>::from_data(
        TensorData::new(table.as_slice().to_vec(), [table.rows(), table.dim()]),
        &plain_device(),
    )
}

fn err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Saves the user and item tables to `path` (burnpack).
pub fn save_tables(path: &Path, users: &EmbeddingTable, items: &EmbeddingTable) -> Result<()> {
    let module = Tables {
        user: Param::from_tensor(to_tensor(users)),
        item: Param::from_tensor(to_tensor(items)),
    };
    let bytes = module
        .into_record()
        .into_bytes()
        .map_err(|e| err(path, format!("could not encode the tables: {e}")))?;
    write_atomic(path, &bytes).map_err(|e| err(path, format!("could not write: {e}")))
}

/// Loads the tables saved by [`save_tables`], checking their shapes against the expected
/// `n_users × dim` and `n_items × dim` (a checkpoint from another dataset or width is an
/// error, not a silent mismatch).
pub fn load_tables(
    path: &Path,
    n_users: usize,
    n_items: usize,
    dim: usize,
) -> Result<(EmbeddingTable, EmbeddingTable)> {
    let raw = std::fs::read(path).map_err(|e| err(path, format!("could not read: {e}")))?;
    let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(raw))
        .map_err(|e| err(path, format!("not a valid burnpack checkpoint: {e}")))?;
    let dev = plain_device();
    let skeleton = Tables {
        user: Param::from_tensor(Tensor::zeros([n_users, dim], &dev)),
        item: Param::from_tensor(Tensor::zeros([n_items, dim], &dev)),
    };
    let tables = skeleton.try_load_record(record).map_err(|e| {
        err(
            path,
            format!(
                "does not fit a {n_users}-user × {n_items}-item × {dim}-wide model ({e}); was it \
                 trained on another dataset or with another --dim?"
            ),
        )
    })?;
    let read = |t: Tensor<2>, rows: usize| -> Result<EmbeddingTable> {
        let [r, c] = t.dims();
        if r != rows || c != dim {
            return Err(err(
                path,
                format!("table is {r}×{c}, expected {rows}×{dim}"),
            ));
        }
        let data = t
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| err(path, format!("{e:?}")))?;
        Ok(EmbeddingTable::from_vec(rows, dim, data))
    };
    Ok((
        read(tables.user.val(), n_users)?,
        read(tables.item.val(), n_items)?,
    ))
}

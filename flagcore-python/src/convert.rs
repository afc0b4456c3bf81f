//! JSON values between Python and Rust (`serde_json::Value` ⇄ `dict`, `list`, `str`, …).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value as Json};

/// Converts a JSON value to the Python object `json.loads` would give.
pub(crate) fn to_py<'py>(py: Python<'py>, v: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => number_to_py(py, n)?,
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Json::Object(m) => map_to_py(py, m)?.into_any(),
    })
}

fn number_to_py<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        Ok(i.into_pyobject(py)?.into_any())
    } else if let Some(u) = n.as_u64() {
        Ok(u.into_pyobject(py)?.into_any())
    } else {
        Ok(PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any())
    }
}

/// Converts a JSON object to a `dict`.
pub(crate) fn map_to_py<'py>(
    py: Python<'py>,
    m: &Map<String, Json>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in m {
        dict.set_item(k, to_py(py, v)?)?;
    }
    Ok(dict)
}

/// Converts a Python value (`None`, `bool`, `int`, `float`, `str`, `list`, `tuple`, `dict`
/// with `str` keys) to JSON; anything else is a `TypeError`.
pub(crate) fn from_py(ob: &Bound<'_, PyAny>) -> PyResult<Json> {
    from_py_depth(ob, 0)
}

/// Nesting deeper than this is refused (a self-referencing list would recurse forever).
const MAX_DEPTH: usize = 64;

fn from_py_depth(ob: &Bound<'_, PyAny>, depth: usize) -> PyResult<Json> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "value nested more than {MAX_DEPTH} levels deep"
        )));
    }
    if ob.is_none() {
        return Ok(Json::Null);
    }
    if let Ok(s) = ob.cast::<PyString>() {
        return Ok(Json::String(s.to_cow()?.into_owned()));
    }
    // `bool` before `int`: in Python a bool is an int.
    if let Ok(b) = ob.cast::<PyBool>() {
        return Ok(Json::Bool(b.is_true()));
    }
    if ob.is_instance_of::<PyInt>() {
        if let Ok(i) = ob.extract::<i64>() {
            return Ok(Json::from(i));
        }
        if let Ok(u) = ob.extract::<u64>() {
            return Ok(Json::from(u));
        }
        return Err(PyValueError::new_err("integer out of the range of 64 bits"));
    }
    if let Ok(f) = ob.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Json::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity are not JSON numbers"));
    }
    if let Ok(d) = ob.cast::<PyDict>() {
        return dict_from_py_depth(d, depth).map(Json::Object);
    }
    if let Ok(l) = ob.cast::<PyList>() {
        return l
            .iter()
            .map(|x| from_py_depth(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Json::Array);
    }
    if let Ok(t) = ob.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| from_py_depth(&x, depth + 1))
            .collect::<PyResult<_>>()
            .map(Json::Array);
    }
    Err(PyTypeError::new_err(format!(
        "{} is not a JSON value (None, bool, int, float, str, list or dict)",
        ob.get_type().name()?
    )))
}

/// Converts a `dict` with `str` keys to a JSON object.
pub(crate) fn dict_from_py(d: &Bound<'_, PyDict>) -> PyResult<Map<String, Json>> {
    dict_from_py_depth(d, 0)
}

fn dict_from_py_depth(d: &Bound<'_, PyDict>, depth: usize) -> PyResult<Map<String, Json>> {
    let mut m = Map::new();
    for (k, v) in d.iter() {
        let Ok(k) = k.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "dict keys must be str, not {}",
                k.get_type().name()?
            )));
        };
        m.insert(k.to_cow()?.into_owned(), from_py_depth(&v, depth + 1)?);
    }
    Ok(m)
}

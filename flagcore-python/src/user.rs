//! `flagcore.User`: an immutable user that holds its evaluation-ready form.

use flagcore::UserData;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Value as Json};
use yoke::{Yoke, Yokeable};

use crate::convert::{dict_from_py, from_py, map_to_py, to_py};

/// A user to evaluate: Statsig's user fields (``userID``, ``email``, ``ip``, ``userAgent``,
/// ``country``, ``locale``, ``appVersion``, ``custom``, ``privateAttributes``,
/// ``customIDs``, ``statsigEnvironment``).
///
/// Immutable, and converted once when built: evaluating with the same ``User`` many times
/// costs nothing per call for the conversion. Build one per request (or keep one per
/// signed-in user).
#[pyclass(module = "flagcore", frozen)]
pub(crate) struct User {
    /// The owned fields with the borrowed view evaluation takes, built once: building the
    /// view (eleven fields) on every call cost about a third of a `check_gate`'s own work.
    view: Yoke<View<'static>, Box<UserData>>,
}

/// [`flagcore::User`], borrowing from the [`UserData`] it is yoked to.
#[derive(Yokeable)]
struct View<'a>(flagcore::User<'a>);

impl User {
    fn new_from(data: UserData) -> User {
        User {
            view: Yoke::attach_to_cart(Box::new(data), |data| View(data.view())),
        }
    }

    /// The user's fields, owned.
    pub(crate) fn data(&self) -> &UserData {
        self.view.backing_cart()
    }

    /// The user as evaluation takes it (no work per call).
    pub(crate) fn view(&self) -> &flagcore::User<'_> {
        &self.view.get().0
    }
}

fn opt_json(v: Option<&Bound<'_, PyAny>>) -> PyResult<Json> {
    match v {
        None => Ok(Json::Null),
        Some(v) => from_py(v),
    }
}

fn opt_map(v: Option<&Bound<'_, PyDict>>) -> PyResult<Option<Map<String, Json>>> {
    v.map(dict_from_py).transpose()
}

fn json_or_none<'py>(py: Python<'py>, v: &Json) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, v)
}

fn map_or_none<'py>(py: Python<'py>, m: &Option<Map<String, Json>>) -> PyResult<Bound<'py, PyAny>> {
    match m {
        None => Ok(py.None().into_bound(py)),
        Some(m) => Ok(map_to_py(py, m)?.into_any()),
    }
}

#[pymethods]
impl User {
    /// A user; every field is optional and keyword-only.
    #[new]
    #[pyo3(signature = (user_id=None, *, email=None, ip=None, user_agent=None, country=None,
        locale=None, app_version=None, custom=None, private_attributes=None, custom_ids=None,
        statsig_environment=None))]
    #[allow(clippy::too_many_arguments)] // Statsig's user has this many fields.
    fn new(
        user_id: Option<&Bound<'_, PyAny>>,
        email: Option<&Bound<'_, PyAny>>,
        ip: Option<&Bound<'_, PyAny>>,
        user_agent: Option<&Bound<'_, PyAny>>,
        country: Option<&Bound<'_, PyAny>>,
        locale: Option<&Bound<'_, PyAny>>,
        app_version: Option<&Bound<'_, PyAny>>,
        custom: Option<&Bound<'_, PyDict>>,
        private_attributes: Option<&Bound<'_, PyDict>>,
        custom_ids: Option<&Bound<'_, PyDict>>,
        statsig_environment: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<User> {
        Ok(User::new_from(UserData {
            user_id: opt_json(user_id)?,
            email: opt_json(email)?,
            ip: opt_json(ip)?,
            user_agent: opt_json(user_agent)?,
            country: opt_json(country)?,
            locale: opt_json(locale)?,
            app_version: opt_json(app_version)?,
            custom: opt_map(custom)?,
            private_attributes: opt_map(private_attributes)?,
            custom_ids: opt_map(custom_ids)?,
            statsig_environment: opt_map(statsig_environment)?,
        }))
    }

    /// A user from Statsig's user JSON as a ``dict`` (``{"userID": …, "customIDs": {…}}``);
    /// ``ValueError`` when a field has the wrong shape (for example ``custom`` not a dict).
    #[staticmethod]
    fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<User> {
        let json = Json::Object(dict_from_py(d)?);
        let data = serde_json::from_value(json)
            .map_err(|e| PyValueError::new_err(format!("not a Statsig user: {e}")))?;
        Ok(User::new_from(data))
    }

    /// A user from Statsig's user JSON text (``str`` or ``bytes``).
    #[staticmethod]
    fn from_json(text: &Bound<'_, PyAny>) -> PyResult<User> {
        let data = if let Ok(s) = text.cast::<PyString>() {
            UserData::from_json(s.to_cow()?.as_bytes())
        } else {
            UserData::from_json(&text.extract::<Vec<u8>>()?)
        }
        .map_err(|e| PyValueError::new_err(format!("not a Statsig user: {e}")))?;
        Ok(User::new_from(data))
    }

    /// Statsig's user JSON as a ``dict`` (fields that are not set are left out).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let u = self.data();
        for (k, v) in [
            ("userID", &u.user_id),
            ("email", &u.email),
            ("ip", &u.ip),
            ("userAgent", &u.user_agent),
            ("country", &u.country),
            ("locale", &u.locale),
            ("appVersion", &u.app_version),
        ] {
            if !v.is_null() {
                d.set_item(k, to_py(py, v)?)?;
            }
        }
        for (k, v) in [
            ("custom", &u.custom),
            ("privateAttributes", &u.private_attributes),
            ("customIDs", &u.custom_ids),
            ("statsigEnvironment", &u.statsig_environment),
        ] {
            if let Some(m) = v {
                d.set_item(k, map_to_py(py, m)?)?;
            }
        }
        Ok(d)
    }

    /// ``userID``.
    #[getter]
    fn user_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().user_id)
    }
    /// ``email``.
    #[getter]
    fn email<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().email)
    }
    /// ``ip``.
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().ip)
    }
    /// ``userAgent``.
    #[getter]
    fn user_agent<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().user_agent)
    }
    /// ``country``.
    #[getter]
    fn country<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().country)
    }
    /// ``locale``.
    #[getter]
    fn locale<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().locale)
    }
    /// ``appVersion``.
    #[getter]
    fn app_version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_or_none(py, &self.data().app_version)
    }
    /// ``custom`` (a copy).
    #[getter]
    fn custom<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_or_none(py, &self.data().custom)
    }
    /// ``privateAttributes`` (a copy).
    #[getter]
    fn private_attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_or_none(py, &self.data().private_attributes)
    }
    /// ``customIDs`` (a copy).
    #[getter]
    fn custom_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_or_none(py, &self.data().custom_ids)
    }
    /// ``statsigEnvironment`` (a copy).
    #[getter]
    fn statsig_environment<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        map_or_none(py, &self.data().statsig_environment)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("User.from_dict({})", self.to_dict(py)?.repr()?))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<User>()
            .is_ok_and(|o| o.get().data() == self.data())
    }
}

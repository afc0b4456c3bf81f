"""Using flagcore from Python through its C ABI, with nothing but ctypes.

    cargo build --release -p flagcore-ffi
    FLAGCORE_LIB=target/release/libflagcore.so python3 examples/python/flagcore_example.py

Copy the `Flagcore` class into your project: it wraps the handful of C functions a service
needs (load a ruleset, build a user, check a gate, read an experiment). Every call returns a
`flagcore_result` code; non-zero codes raise `FlagcoreError`.
"""
import ctypes
import json
import os
import sys

OK, NOT_FOUND = 0, 6
KIND_GATE, KIND_CONFIG, KIND_EXPERIMENT, KIND_LAYER = 0, 1, 2, 3
RULE_ID, GROUP_NAME, ALLOCATED_EXPERIMENT = 0, 1, 2


class FlagcoreError(Exception):
    pass


class Str(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_char)), ("len", ctypes.c_size_t)]

    def text(self):
        return ctypes.string_at(self.data, self.len).decode("utf-8")


class Flagcore:
    """A store holding the active ruleset. Thread-safe: share one per process."""

    def __init__(self, lib_path, environment=None):
        self.lib = lib = ctypes.CDLL(lib_path)
        p, sz, u8p = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
        for name, args in {
            "flagcore_store_new": [u8p, sz, ctypes.POINTER(p)],
            "flagcore_store_load_json": [p, u8p, sz, ctypes.c_char_p, sz, ctypes.POINTER(sz)],
            "flagcore_user_from_json": [u8p, sz, ctypes.POINTER(p)],
            "flagcore_store_check_gate": [p, p, u8p, sz, ctypes.POINTER(ctypes.c_bool)],
            "flagcore_store_evaluate": [p, p, ctypes.c_uint32, u8p, sz, ctypes.POINTER(p)],
            "flagcore_evaluation_string": [p, ctypes.c_uint32, ctypes.POINTER(Str)],
            "flagcore_evaluation_json": [p, ctypes.c_char_p, sz, ctypes.POINTER(sz)],
            "flagcore_evaluation_record_json": [p, ctypes.c_char_p, sz, ctypes.POINTER(sz)],
        }.items():
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = ctypes.c_int
        for name in ["flagcore_store_free", "flagcore_user_free", "flagcore_evaluation_free"]:
            getattr(lib, name).argtypes = [p]
            getattr(lib, name).restype = None
        self.store = p()
        env = environment.encode() if environment else None
        self._check(lib.flagcore_store_new(env, len(env or b""), ctypes.byref(self.store)))

    def __del__(self):
        if getattr(self, "store", None):
            self.lib.flagcore_store_free(self.store)

    @staticmethod
    def _check(code):
        if code != OK:
            raise FlagcoreError(f"flagcore error code {code}")

    def load(self, payload: bytes):
        """Installs a download_config_specs payload; on error the old one keeps serving."""
        err = ctypes.create_string_buffer(512)
        n = ctypes.c_size_t()
        code = self.lib.flagcore_store_load_json(self.store, payload, len(payload), err, len(err), ctypes.byref(n))
        if code != OK:
            raise FlagcoreError(err.raw[: min(n.value, len(err))].decode("utf-8", "replace"))

    def user(self, fields: dict):
        return User(self.lib, json.dumps(fields).encode())

    def check_gate(self, user, name: str) -> bool:
        out = ctypes.c_bool()
        b = name.encode()
        self._check(self.lib.flagcore_store_check_gate(self.store, user.handle, b, len(b), ctypes.byref(out)))
        return out.value

    def evaluate(self, user, kind: int, name: str) -> dict:
        """Value, rule id and group of a config, experiment or layer, as a dict."""
        ev = ctypes.c_void_p()
        b = name.encode()
        self._check(self.lib.flagcore_store_evaluate(self.store, user.handle, kind, b, len(b), ctypes.byref(ev)))
        try:
            return json.loads(self._json(self.lib.flagcore_evaluation_record_json, ev))
        finally:
            self.lib.flagcore_evaluation_free(ev)

    def _json(self, fn, ev):
        n = ctypes.c_size_t()
        fn(ev, None, 0, ctypes.byref(n))  # asks for the size
        buf = ctypes.create_string_buffer(n.value)
        self._check(fn(ev, buf, n.value, ctypes.byref(n)))
        return buf.raw[: n.value]


class User:
    """A user built from Statsig's user JSON."""

    def __init__(self, lib, user_json: bytes):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        Flagcore._check(lib.flagcore_user_from_json(user_json, len(user_json), ctypes.byref(self.handle)))

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.flagcore_user_free(self.handle)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    lib = os.environ.get("FLAGCORE_LIB", os.path.join(here, "../../target/release/libflagcore.so"))
    flags = Flagcore(lib)
    with open(os.path.join(here, "../data/demo.json"), "rb") as f:
        flags.load(f.read())
    for fields in [{"userID": "ana", "email": "ana@acme.com"}, {"userID": "bo", "country": "NZ"}]:
        user = flags.user(fields)
        print(fields["userID"], "team_dogfood:", flags.check_gate(user, "team_dogfood"))
        exp = flags.evaluate(user, KIND_EXPERIMENT, "checkout_button")
        print(fields["userID"], "checkout_button:", exp["group_name"], exp["value"]["color"])
        pricing = flags.evaluate(user, KIND_CONFIG, "pricing")
        print(fields["userID"], "pricing:", pricing["value"], "by rule", pricing["rule_id"])
    try:
        flags.load(b"<html>502 Bad Gateway</html>")
    except FlagcoreError as e:
        print("rejected a bad payload:", e)


if __name__ == "__main__":
    sys.exit(main())

"""profile_model.yaml is validated by params.schema.yaml; each break is one line naming the field."""

import copy
from pathlib import Path

import pytest
import yaml

from clover.errors import CloverError
from clover.paths import catalog_dir
from clover.profiles.params import parse_params

RAW = yaml.safe_load((catalog_dir() / "profile_model.yaml").read_text())


def _pop(*keys):
    def mut(r):
        for k in keys[:-1]:
            r = r[k]
        r.pop(keys[-1])
    return mut


@pytest.mark.parametrize("mutate, message", [
    (_pop("service"), "p.yaml: missing section 'service'"),
    (lambda r: r.__setitem__("power", 3), "p.yaml: missing section 'power'"),
    (_pop("precision"), "p.yaml: missing constant .precision ({value, source})"),
    (_pop("service", "tau_host_ms"), "p.yaml: missing constant service.tau_host_ms ({value, source})"),
    (_pop("service", "hill_k", "value"), "p.yaml: missing constant service.hill_k ({value, source})"),
    (lambda r: r["service"]["hill_k"].__setitem__("source", " "), "p.yaml: constant service.hill_k has no source"),
    (_pop("gpus", "a100-40gb", "sms_full_chip"),
     "p.yaml: missing constant gpus.a100-40gb.sms_full_chip ({value, source})"),
    (lambda r: r["variants"]["yolov5l"].pop("kernels"),
     "p.yaml: variants.yolov5l needs kernels and peak_activation_mb"),
])
def test_schema_errors_name_the_field(mutate, message):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(CloverError) as exc:
        parse_params(yaml.safe_dump(raw), Path("p.yaml"))
    assert str(exc.value) == message


def test_top_level_must_be_a_mapping():
    with pytest.raises(CloverError, match="^p.yaml: expected a mapping at the top level$"):
        parse_params("- 1\n", Path("p.yaml"))

"""``clover mig``'s configuration file, read as plain layout data (no models import)."""

import pytest

from clover.errors import CloverError
from clover.mig.cli import configuration_layouts
from clover.mig.manager import MigInstance, layouts_of, plan_operations
from clover.models.configuration import Configuration, GpuAssignment

CONFIG = Configuration("a100-40gb", (
    GpuAssignment(("3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"),
                  ("yolov5l", "yolov5m", "yolov5s", "yolov5n")),
    GpuAssignment(("7g.40gb",), ("yolov5x",)),
))


def test_same_layouts_and_plan_as_the_configuration_it_reads():
    plain = configuration_layouts(CONFIG.as_dict())
    assert layouts_of(plain) == layouts_of(CONFIG)
    assert plan_operations(layouts_of(plain)) == plan_operations(layouts_of(CONFIG))


def test_placement_follows_current_instances_as_for_a_configuration():
    # 3g+2g+1g+1g has two placements; a 2g slice already at memory slice 0 selects the one
    # that keeps it (not the file's order), for the plain reading as for a Configuration
    current = {0: (MigInstance(gpu_index=0, gi_id=1, profile="2g.10gb", start=0, size=2),)}
    plain = configuration_layouts(CONFIG.as_dict())
    kept = layouts_of(plain, current)[0]
    assert [(p.start, p.profile) for p in kept.slices][:1] == [(0, "2g.10gb")]
    assert layouts_of(plain, current) == layouts_of(CONFIG, current)


@pytest.mark.parametrize("data, message", [
    ({"gpu": "a100-40gb", "gpus": [{"layout": ["7g.40gb"]}]},
     "malformed configuration: missing or bad field 'variants'"),
    ({"gpus": []}, "malformed configuration: missing or bad field 'gpu'"),
    ({"gpu": "a100-40gb", "gpus": [{"layout": ["7g.40gb", "1g.5gb"], "variants": ["a", "b"]}]},
     "GPU 0: invalid MIG layout 7g.40gb+1g.5gb for a100-40gb"),
])
def test_bad_files_give_the_configurations_messages(data, message):
    with pytest.raises(CloverError) as exc:
        configuration_layouts(data)
    assert exc.value.message == message
    with pytest.raises(CloverError) as ref:
        Configuration.from_dict(data).validate()
    assert ref.value.message == message

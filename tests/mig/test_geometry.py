import json
from collections import Counter

import pytest

from clover.errors import CloverError
from clover.mig.geometry import GPUS, enumerate_layouts, get_gpu, layout_by_name, layout_from_mix


def test_a100_has_the_19_documented_layouts_and_14_mixes(shared_data):
    layouts = enumerate_layouts("a100-40gb")
    assert len(layouts) == 19
    mixes = {lay.mix for lay in layouts}
    assert len(mixes) == 14
    ref = json.loads((shared_data / "clover_reference" / "partition_code.json").read_text())
    assert len(ref) == 19
    ref_mixes = {tuple(sorted(v, reverse=True)) for v in ref.values()}
    assert mixes == ref_mixes


def test_only_difference_to_clover_list_is_its_duplicate_entry_17(shared_data):
    """NVIDIA placement gives 3 layouts {2,2,1,1,1} and 3 of {2,1,1,1,1,1}.

    The original partition_code.json lists [1,2,1,1,1,1] as entry 17, a fourth copy of
    {2,1,1,1,1,1}, where the placement rules give 1g+1g+1g | 2g+2g, i.e. {2,2,1,1,1}.
    """
    ours = Counter(lay.mix for lay in enumerate_layouts("a100-40gb"))
    ref = json.loads((shared_data / "clover_reference" / "partition_code.json").read_text())
    theirs = Counter(tuple(sorted(v, reverse=True)) for v in ref.values())
    assert ours - theirs == Counter({(2, 2, 1, 1, 1): 1})
    assert theirs - ours == Counter({(2, 1, 1, 1, 1, 1): 1})
    assert ref["17"] == [1, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("gpu", list(GPUS))
def test_layouts_are_valid_and_maximal(gpu):
    spec = get_gpu(gpu)
    for lay in enumerate_layouts(gpu):
        used = []
        compute = 0
        for pl in lay.slices:
            prof = spec.profile(pl.profile)
            assert pl.start in prof.placements
            span = set(range(pl.start, pl.start + prof.memory_slices))
            assert not span & set(used)
            assert max(span) < 8
            used += span
            compute += prof.compute_slices
        assert compute <= 7
        # maximal: no further profile placement fits
        for prof in spec.profiles:
            for start in prof.placements:
                span = set(range(start, start + prof.memory_slices))
                fits = not span & set(used) and max(span) < 8 and compute + prof.compute_slices <= 7
                assert not fits, (lay.name, prof.name, start)


def test_known_layouts():
    full = layout_from_mix("a100-40gb", [7])
    assert full.name == "7g.40gb" and full.index == 0
    assert layout_from_mix("a100-40gb", [3, 4]).name == "4g.20gb+3g.20gb"
    assert layout_by_name("a100-40gb", "3g.20gb+3g.20gb").mix == (3, 3)
    seven = layout_from_mix("a100-40gb", [1] * 7)
    assert [p.start for p in seven.slices] == [0, 1, 2, 3, 4, 5, 6]
    with pytest.raises(CloverError, match="no valid a100-40gb MIG layout"):
        layout_from_mix("a100-40gb", [4, 4])
    with pytest.raises(CloverError, match="invalid MIG layout"):
        layout_by_name("a100-40gb", "4g.20gb+4g.20gb")


def test_profile_catalog_values():
    a100 = get_gpu("a100-40gb")
    assert [p.name for p in a100.profiles] == ["1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]
    assert a100.profile("3g.20gb").memory_gb == pytest.approx(19.62)
    assert a100.profile("1g.5gb").sms == 14 and a100.full_profile.sms == 98
    assert a100.tdp_w == 400
    assert get_gpu("H100-80GB").profile("1g.10gb").compute_slices == 1
    assert get_gpu("h200").full_profile.name == "7g.141gb"


def test_unknown_gpu_and_profile():
    with pytest.raises(CloverError, match="unknown GPU 'v100'"):
        get_gpu("v100")
    with pytest.raises(CloverError, match="unknown MIG profile"):
        get_gpu("a100-40gb").profile("1g.10gb")


def test_cli_layouts(run_cli):
    code, out, _ = run_cli("mig", "layouts", "--gpu", "a100-40gb", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data) == 19 and data[0]["mix"] == [7]
    code, out, _ = run_cli("mig", "layouts")
    assert code == 0 and "19 valid MIG layouts, 14 distinct slice mixes" in out
    code, _, err = run_cli("mig", "layouts", "--gpu", "tpu")
    assert code == 2 and err.strip() == (
        "clover: error: unknown GPU 'tpu' (known: a100-40gb, a100-80gb, h100-80gb, h200)")

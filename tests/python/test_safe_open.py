"""stkit.safe_open and the loading both frameworks share, on both: round trips of every dtype and
shape through save_file/load_file/save/load, dtypes a framework lacks, keys, metadata, get_tensor, get_slice against NumPy/torch indexing
of the whole tensor, tensors that outlive the file object, writes that never reach the file, threads,
sharded checkpoints through their index."""
import gc
import hashlib
import json
import threading

import numpy as np
import pytest

import stkit
from conftest import ALL_DTYPES, DTYPE_BYTES, FRAMEWORKS, SHAPES, Framework


def make_file(framework: Framework, path, tensors, metadata=None):
    framework.module.save_file(tensors, path, metadata)
    return str(path)


ROUND_TRIPS = [(f, d) for f in FRAMEWORKS for d in ALL_DTYPES if FRAMEWORKS[f].has(d)]
LACKING = [(f, d) for f in FRAMEWORKS for d in ALL_DTYPES if not FRAMEWORKS[f].has(d)]


@pytest.mark.parametrize("name, dtype", ROUND_TRIPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_every_dtype_and_shape(tmp_path, name, dtype, shape):
    framework = FRAMEWORKS[name]
    tensors = {"t": framework.make(dtype, shape), "other": framework.make("F32", (3,), seed=1)}
    path = tmp_path / "a.safetensors"
    framework.module.save_file(tensors, path, metadata={"k": "v"})
    saved = framework.module.save(tensors, {"k": "v"})
    assert saved == path.read_bytes()
    for loaded in (framework.module.load_file(path), framework.module.load(saved)):
        assert set(loaded) == set(tensors)
        for key in tensors:
            framework.assert_equal(loaded[key], tensors[key])


@pytest.mark.parametrize("name, dtype", LACKING)
def test_dtypes_a_framework_lacks_name_the_tensor(tmp_path, name, dtype):
    framework = FRAMEWORKS[name]
    # Written by the native writer straight from bytes, as another tool would.
    path = tmp_path / "a.safetensors"
    stkit._stkit.write_file(path, [("odd", dtype, (2,), np.zeros(2 * DTYPE_BYTES[dtype], np.uint8)),
                                   ("fine", "F32", (1,), np.zeros(1, np.float32))])
    with pytest.raises(stkit.SafetensorError) as raised:
        framework.module.load_file(path)
    assert raised.value.code == "invalid_argument"
    assert raised.value.name == "odd" and raised.value.file == str(path) and dtype in str(raised.value)
    with stkit.safe_open(path, name) as f:  # the file itself is fine, and so are its other tensors
        framework.assert_equal(f.get_tensor("fine"), framework.make("F32", (1,)) * 0)


def test_keys_metadata_and_tensors(tmp_path, framework):
    tensors = {"z": framework.make("F32", (2, 3)), "a": framework.make("I64", (4,)), "m": framework.make("U8", ())}
    path = make_file(framework, tmp_path / "a.safetensors", tensors, {"format": framework.name})
    with stkit.safe_open(path, framework=framework.name) as f:
        assert f.keys() == ["a", "m", "z"]
        assert f.offset_keys() == ["a", "z", "m"]  # I64, F32, U8: the reference's layout
        assert f.metadata() == {"format": framework.name}
        assert len(f) == 3 and "z" in f and "q" not in f
        for name, value in tensors.items():
            framework.assert_equal(f.get_tensor(name), value)
        sl = f.get_slice("z")
        assert sl.get_shape() == [2, 3] and sl.get_dtype() == "F32" and len(sl) == 2
    no_meta = make_file(framework, tmp_path / "b.safetensors", {"x": framework.make("F16", (1,))})
    assert stkit.safe_open(no_meta, framework.name).metadata() is None


def random_key(rng: np.random.Generator, shape):
    """An index NumPy and torch both take: ints (some negative), slices with positive steps and
    out-of-range bounds, an optional `...`, trailing dimensions sometimes left out."""
    parts = []
    for extent in shape:
        kind = rng.integers(0, 4)
        if kind == 0 and extent > 0:
            parts.append(int(rng.integers(-extent, extent)))
        else:
            lo, hi = (int(v) for v in rng.integers(-extent - 2, extent + 3, size=2))
            start = None if rng.integers(0, 4) == 0 else lo
            stop = None if rng.integers(0, 4) == 0 else hi
            step = None if rng.integers(0, 2) == 0 else int(rng.integers(1, 4))
            parts.append(slice(start, stop, step))
    if parts and rng.integers(0, 4) == 0:
        first = int(rng.integers(0, len(parts)))
        last = int(rng.integers(first, len(parts) + 1))
        parts[first:last] = [Ellipsis]
    elif parts and rng.integers(0, 4) == 0:
        parts = parts[: int(rng.integers(0, len(parts)))]
    if len(parts) == 1 and rng.integers(0, 2) == 0:
        return parts[0]
    return tuple(parts)


@pytest.mark.parametrize("dtype", ["F32", "U8", "BOOL", "F64", "I16"])
def test_get_slice_matches_framework_indexing(tmp_path, framework, dtype):
    rng = np.random.default_rng(hash((framework.name, dtype)) % 2**32)
    shapes = [tuple(int(e) for e in rng.integers(0, 6, size=rng.integers(0, 5))) for _ in range(12)]
    tensors = {f"t{i}": framework.make(dtype, shape, seed=i) for i, shape in enumerate(shapes)}
    path = make_file(framework, tmp_path / "s.safetensors", tensors)
    compared = 0
    with stkit.safe_open(path, framework.name) as f:
        for round in range(300):
            name = f"t{round % len(shapes)}"
            full = tensors[name]
            key = random_key(rng, full.shape)
            got = f.get_slice(name)[key]
            expected = full[key]
            if framework.name == "np":
                expected = np.asarray(expected)  # NumPy gives a scalar for a 0-d result
            else:
                expected = expected.clone()
            framework.assert_equal(got, expected)
            compared += 1
    assert compared == 300


def test_get_slice_errors(tmp_path, framework):
    path = make_file(framework, tmp_path / "s.safetensors", {"t": framework.make("F32", (2, 3))})
    sl = stkit.safe_open(path, framework.name).get_slice("t")
    cases = [((2, 0), "st_slice_out_of_range"), ((0, -4), "st_slice_out_of_range"),
             ((0, 0, 0), "st_slice_rank_mismatch"), ((slice(None, None, -1),), "invalid_argument"),
             ((Ellipsis, Ellipsis), "invalid_argument")]
    for key, code in cases:
        with pytest.raises(stkit.SafetensorError) as raised:
            sl[key]
        assert raised.value.code == code, key
        assert raised.value.name == "t" and raised.value.file == path
    with pytest.raises(TypeError):
        sl["x"]
    with pytest.raises(TypeError):
        sl[True]


def test_errors_carry_code_file_offset_and_name(tmp_path, framework):
    good = make_file(framework, tmp_path / "good.safetensors", {"t": framework.make("F32", (4,))})
    with pytest.raises(stkit.TensorNotFoundError) as raised:
        stkit.safe_open(good, framework.name).get_tensor("missing")
    e = raised.value
    assert isinstance(e, KeyError) and isinstance(e, stkit.SafetensorError)
    assert (e.code, e.name, e.file, e.offset) == ("st_tensor_not_found", "missing", good, None)
    with pytest.raises(stkit.SafetensorError, match="File does not|missing"):
        stkit.safe_open(good, framework.name).get_slice("missing")

    with pytest.raises(FileNotFoundError) as raised:
        stkit.safe_open(tmp_path / "absent.safetensors", framework.name)
    assert raised.value.code == "io_open_failed" and raised.value.filename == str(tmp_path / "absent.safetensors")

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes((11).to_bytes(8, "little") + b'{"t": {"dty')
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.safe_open(corrupt, framework.name)
    assert raised.value.code == "st_header_invalid_json" and raised.value.file == str(corrupt)
    assert raised.value.offset is not None

    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[:-3])
    with pytest.raises(stkit.SafetensorError) as raised:
        stkit.safe_open(truncated, framework.name)
    assert raised.value.code == "st_data_size_mismatch" and raised.value.file == str(truncated)
    assert raised.value.offset == len(data) - 3 and str(truncated) in str(raised.value)  # where the bytes end
    assert raised.value.name == "t"  # the tensor cut short

    for bad in ("tf", "flax", "torchy", 3):
        with pytest.raises(stkit.SafetensorError, match="framework"):
            stkit.safe_open(good, bad)

    f = stkit.safe_open(good, framework.name)
    with f:
        pass
    with pytest.raises(stkit.SafetensorError, match="File is closed"):
        f.keys()


def mapped(path) -> bool:
    with open("/proc/self/maps") as maps:
        return any(line.rstrip().endswith(str(path)) for line in maps)


def test_tensors_outlive_the_file_object_and_keep_the_mapping(tmp_path, framework):
    path = make_file(framework, tmp_path / "a.safetensors", {"t": framework.make("I32", (1000,))})
    expected = framework.make("I32", (1000,))
    with stkit.safe_open(path, framework.name) as f:
        tensor = f.get_tensor("t")
    del f
    gc.collect()
    assert mapped(path)
    framework.assert_equal(tensor, expected)
    view = tensor[10:20]
    del tensor
    gc.collect()
    assert mapped(path)  # a view of a tensor still holds the pages
    framework.assert_equal(view, expected[10:20])
    del view
    gc.collect()
    assert not mapped(path)


def test_writes_to_loaded_tensors_never_reach_the_file(tmp_path, framework):
    path = make_file(framework, tmp_path / "a.safetensors", {"t": framework.make("F64", (4096,)), "u": framework.make("U8", (7,))})
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    loaded = framework.module.load_file(path)
    loaded["t"][:] = 0
    loaded["u"][3] = 255
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
    framework.assert_equal(framework.module.load_file(path)["t"], framework.make("F64", (4096,)))


def test_two_threads_load_different_files_at_once(tmp_path, framework):
    paths, expected = [], []
    for i in range(2):
        tensors = {f"t{j}": framework.make("F32", (64, 64), seed=10 * i + j) for j in range(20)}
        paths.append(make_file(framework, tmp_path / f"{i}.safetensors", tensors))
        expected.append(tensors)
    failures, start = [], threading.Barrier(2)

    def worker(i):
        try:
            start.wait()
            for _ in range(30):
                loaded = framework.module.load_file(paths[i])
                for name, value in expected[i].items():
                    framework.assert_equal(loaded[name], value)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_sharded_checkpoint_through_its_index(tmp_path, framework):
    shards = {"model-1.safetensors": {"a": framework.make("F32", (3,)), "b": framework.make("I8", (2, 2))},
              "model-2.safetensors": {"c": framework.make("U8", (5,))}}
    weight_map = {}
    for shard, tensors in shards.items():
        make_file(framework, tmp_path / shard, tensors)
        weight_map.update({name: shard for name in tensors})
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 12, "format": "pt"}, "weight_map": weight_map}))
    with stkit.safe_open(index, framework.name) as f:
        assert f.keys() == ["a", "b", "c"]
        assert f.offset_keys() == ["a", "b", "c"]
        assert f.metadata() == {"total_size": "12", "format": "pt"}
        framework.assert_equal(f.get_tensor("c"), shards["model-2.safetensors"]["c"])
        framework.assert_equal(f.get_slice("b")[1], shards["model-1.safetensors"]["b"][1])
    (tmp_path / "model-2.safetensors").unlink()
    with pytest.raises(FileNotFoundError) as raised:
        stkit.safe_open(index, framework.name)
    assert raised.value.file.endswith("model-2.safetensors")

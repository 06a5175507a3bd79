"""The attach in chunks (streaming, within a memory budget) and on a real Dask cluster equals the in-memory attach."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest
from distributed import LocalCluster
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.datasets import get_path
from gridkit.incidents.distributed import attach_dask_job
from gridkit.incidents.job import AttachOptions, attach_job
from gridkit.incidents.pool import attach_pool_job
from gridkit.incidents.spill import medians_by_key, overall_median, spill_values
from gridkit.incidents.stream import attach_stream_job, parse_memory
from gridkit.io import read_layer

NOW = "2024-06-20T12:00"  # some sample incidents lie after it: the future-time note is compared too


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    """Grids of the sample county with a worker for every two grids (for the per-worker evaluation)."""
    from gridkit_cli.main import main

    sample = get_path("sample_county")
    out = tmp_path_factory.mktemp("part")
    assert main(["--quiet", "partition", str(sample / "communities.gpkg"), "--buildings",
                 str(sample / "buildings.gpkg"), "--streets", str(sample / "streets.gpkg"), "-o", str(out)]) == 0
    frame = pyogrio.read_dataframe(out / "grids.gpkg", layer="grids")
    frame["worker_id"] = frame["community_code"] + "-W" + (frame.groupby("community_code").cumcount() // 2).astype(str)
    pyogrio.write_dataframe(frame, out / "grids_workers.gpkg", layer="grids")
    return out / "grids_workers.gpkg"


@pytest.fixture(scope="module")
def in_memory(grids, tmp_path_factory):
    out = tmp_path_factory.mktemp("mem") / "a.gpkg"
    result = attach_job(grids, get_path("sample_county", "incidents.csv"), out,
                        options=AttachOptions(kind="incidents"), streets_path=get_path("sample_county", "streets.gpkg"),
                        now=NOW)
    assert result.n_future > 10  # the note names ten and counts the rest
    return result, out


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


def assert_same_outputs(expected, out, kind="incidents"):
    """The chunked run's files equal the in-memory run's: points, layers, evaluation files byte for byte."""
    import geopandas as gpd

    result, mem = expected
    points = gpd.read_parquet(out.parent / f"{out.stem}_{kind}")
    want = result.points
    assert list(points.columns) == list(want.columns)
    assert points.index.equals(want.index)
    for column in want.columns:
        if column == want.geometry.name:
            assert points.geometry.geom_equals_exact(want.geometry, 0).all()
        else:  # Parquet stores times in milliseconds at the finest second: same instants, another unit
            assert points[column].astype(want[column].dtype).equals(want[column]), column
    layers = ["grid_stats", "evaluation"] if kind == "incidents" else ["grid_stats"]
    assert {n for n, _ in pyogrio.list_layers(out)} == set(layers)
    for layer in layers:
        a, b = pyogrio.read_dataframe(mem, layer=layer), pyogrio.read_dataframe(out, layer=layer)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    beside = sorted(p.name for p in mem.parent.iterdir() if p.name.startswith(mem.stem + "_"))
    for name in beside:
        assert (mem.parent / name).read_bytes() == (out.parent / name).read_bytes(), name


def test_dask_local_cluster_equals_in_memory(grids, in_memory, cluster, tmp_path):
    """Partitioned GeoParquet in (4 files of 4 row groups), 2 worker processes, the in-memory result out."""
    incidents = read_layer(get_path("sample_county", "incidents.csv"), text_fields=("category", "incident_id"))
    parts = tmp_path / "incidents"
    parts.mkdir()
    for i, piece in enumerate(np.array_split(np.arange(len(incidents)), 4)):
        incidents.iloc[piece].to_parquet(parts / f"part.{i}.parquet", row_group_size=500)
    out = tmp_path / "dask" / "a.gpkg"
    result = attach_dask_job(grids, parts, out, options=AttachOptions(kind="incidents"),
                             scheduler=cluster.scheduler_address, rows=1000,
                             streets_path=get_path("sample_county", "streets.gpkg"), now=NOW)
    assert result.chunks == 8
    assert_same_outputs(in_memory, out)
    assert result.summary()[:3] == in_memory[0].summary()[:3]


def test_dask_with_a_csv_sent_in_chunks_equals_in_memory(grids, in_memory, cluster, tmp_path):
    """A CSV is read here in chunks and sent to the workers, a few in flight: the same files."""
    out = tmp_path / "dask_csv" / "a.gpkg"
    result = attach_dask_job(grids, get_path("sample_county", "incidents.csv"), out,
                             options=AttachOptions(kind="incidents"), scheduler=cluster.scheduler_address, rows=1000,
                             streets_path=get_path("sample_county", "streets.gpkg"), now=NOW)
    assert result.chunks == 8
    assert_same_outputs(in_memory, out)


def test_streaming_with_a_tiny_memory_limit_equals_in_memory(grids, in_memory, tmp_path):
    """The CSV in chunks of the smallest size: a budget below what the process already holds."""
    out = tmp_path / "stream" / "a.gpkg"
    result = attach_stream_job(grids, get_path("sample_county", "incidents.csv"), out,
                               options=AttachOptions(kind="incidents"), memory_limit="1MB",
                               streets_path=get_path("sample_county", "streets.gpkg"), now=NOW)
    assert result.chunks == 8  # 7,552 rows in chunks of the smallest size, 1,000
    assert_same_outputs(in_memory, out)
    assert result.summary()[:4] == in_memory[0].summary()[:4]


def test_two_local_processes_equal_in_memory(grids, in_memory, tmp_path):
    """Two forked worker processes, each reading its own row groups of a GeoParquet folder: the in-memory result."""
    incidents = read_layer(get_path("sample_county", "incidents.csv"), text_fields=("category", "incident_id"))
    parts = tmp_path / "incidents"
    parts.mkdir()
    for i, piece in enumerate(np.array_split(np.arange(len(incidents)), 3)):
        incidents.iloc[piece].to_parquet(parts / f"part.{i}.parquet", row_group_size=700)
    out = tmp_path / "pool" / "a.gpkg"
    result = attach_pool_job(grids, parts, out, options=AttachOptions(kind="incidents"), workers=2, rows=1000,
                             streets_path=get_path("sample_county", "streets.gpkg"), now=NOW)
    assert result.chunks == 12  # 3 files of 4 row groups (700, 700, 700, 417): two would pass 1,000 rows
    assert_same_outputs(in_memory, out)
    assert result.summary()[:4] == in_memory[0].summary()[:4]


def test_two_local_processes_with_a_csv_sent_in_chunks_equal_in_memory(grids, in_memory, tmp_path):
    """A CSV read here in chunks of 1,000 rows and sent to two worker processes: the same files."""
    from gridkit_cli.main import main

    out = tmp_path / "pool_csv" / "a.gpkg"
    code = main(["--quiet", "attach", str(grids), str(get_path("sample_county", "incidents.csv")), "--as", "incidents",
                 "--workers", "2", "--chunk-rows", "1000", "--streets", str(get_path("sample_county", "streets.gpkg")),
                 "-o", str(out)])
    assert code == 0
    expected = attach_job(grids, get_path("sample_county", "incidents.csv"), tmp_path / "mem" / "a.gpkg",
                          options=AttachOptions(kind="incidents"), streets_path=get_path("sample_county", "streets.gpkg"))
    assert_same_outputs((expected, tmp_path / "mem" / "a.gpkg"), out)


def test_streaming_components_from_a_geopackage(grids, tmp_path):
    """Feature ranges of a GeoPackage (fids kept), street densities, components."""
    sample = get_path("sample_county")
    options = AttachOptions(kind="components")
    mem = tmp_path / "mem" / "c.gpkg"
    expected = attach_job(grids, sample / "components.gpkg", mem, options=options, streets_path=sample / "streets.gpkg")
    out = tmp_path / "stream" / "c.gpkg"
    result = attach_stream_job(grids, sample / "components.gpkg", out, options=options, rows=1500,
                               streets_path=sample / "streets.gpkg")
    assert result.chunks >= 2
    assert_same_outputs((expected, mem), out, kind="components")


def test_repeated_ids_across_chunks_are_refused_and_nothing_is_written(grids, tmp_path, capsys):
    from gridkit_cli.main import main

    frame = pd.read_csv(get_path("sample_county", "incidents.csv"), dtype=str)
    frame.loc[7000, "incident_id"] = frame.loc[3, "incident_id"]  # chunks 0 and 7 of 1,000 rows
    source = tmp_path / "incidents.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out" / "a.gpkg"
    code = main(["attach", str(grids), str(source), "--as", "incidents", "--memory-limit", "1MB", "-o", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert "incident_id" in err and "features 3, 7000" in err
    assert not out.parent.exists() or not any(out.parent.iterdir())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.0, 0.5, 1.0, 2.25, 7.0, 1e6])
                          | st.floats(0, 1e4, allow_nan=False)), min_size=1, max_size=60),
       st.integers(1, 4), st.integers(1, 5))
def test_spilled_medians_are_pandas_medians(tmp_path_factory, rows, n_files, n_buckets):
    """Medians from spills in buckets and files, by key and over all, equal pandas' group median of all values."""
    folder = tmp_path_factory.mktemp("spill")
    frame = pd.DataFrame(rows, columns=["key", "hours"])
    for i, piece in enumerate(np.array_split(np.arange(len(frame)), n_files)):
        part = frame.iloc[piece]
        spill_values(part, (part["key"].to_numpy() % n_buckets).astype(np.int32), folder / f"{i:06d}.parquet")
    by_key = medians_by_key(folder, n_buckets, "key", "hours")
    pd.testing.assert_series_equal(by_key, frame.groupby("key")["hours"].median(), check_names=False,
                                   check_index_type=False)
    expected = frame.groupby(np.zeros(len(frame)))["hours"].median().iloc[0]
    for gather in (1, 2_000_000):  # narrowing the histogram down to one value at a time, or gathered at once
        assert overall_median(folder, n_buckets, "hours", count=len(frame), lo=frame["hours"].min(),
                              hi=frame["hours"].max(), gather=gather) == expected


def test_memory_sizes():
    assert parse_memory("2GB") == 2_000_000_000 and parse_memory("1.5GiB") == 3 * 2**29
    with pytest.raises(ValueError, match="memory-limit"):
        parse_memory("lots")


def test_a_file_without_any_category_is_refused_in_chunks(grids, tmp_path):
    """No chunk has a category: refused as the in-memory attach refuses it, naming the field; nothing written."""
    from gridkit.errors import MissingFieldError

    frame = pd.read_csv(get_path("sample_county", "incidents.csv"), dtype=str)
    frame["category"] = ""
    source = tmp_path / "incidents.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out" / "a.gpkg"
    with pytest.raises(MissingFieldError, match="no row has a value in 'category'"):
        attach_stream_job(grids, source, out, options=AttachOptions(kind="incidents"), rows=2000)
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False, width=64),
                          st.floats(allow_nan=False, allow_infinity=False, width=64)), min_size=1, max_size=30),
       st.sampled_from(["points", "with an empty point", "with a line", "big-endian", "with a null"]))
def test_points_read_from_wkb_bytes_are_shapelys(xy, case):
    """The fast path for 2D point WKB gives the geometries shapely.from_wkb gives; anything else goes to shapely."""
    import pyarrow as pa
    import shapely

    from gridkit.incidents.chunks import geometries_from_wkb

    geoms = list(shapely.points(np.array(xy)))
    if case == "with an empty point":
        geoms.append(shapely.Point())
    elif case == "with a line":
        geoms.append(shapely.LineString([(0, 0), (1, 1)]))
    wkb = list(shapely.to_wkb(np.array(geoms, dtype=object), byte_order=0 if case == "big-endian" else 1))
    if case == "with a null":
        wkb.append(None)
    for array in (pa.array(wkb, type=pa.binary()), pa.chunked_array([pa.array(wkb[:1], type=pa.large_binary()),
                                                                      pa.array(wkb[1:], type=pa.large_binary())])):
        got = geometries_from_wkb(array)
        want = shapely.from_wkb(np.array(wkb, dtype=object))
        assert len(got) == len(want)
        assert all((a is None and b is None) or bool(shapely.equals_exact(a, b, 0)) or (a.is_empty and b.is_empty)
                   for a, b in zip(got, want))
        assert shapely.to_wkb(np.asarray(got, dtype=object)).tolist() == shapely.to_wkb(want).tolist()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=6), min_size=1, max_size=3), st.integers(1, 90),
       st.booleans())
def test_chunk_specs_cover_every_row_group_once_in_order(tmp_path_factory, files, rows, at_most):
    """Pieces of whole row groups, in file order, offsets running on; with at_most none above the rows asked
    for unless it is one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gridkit.incidents.chunks import chunk_specs

    folder = tmp_path_factory.mktemp("specs")
    for i, groups in enumerate(files):  # chunk_specs reads only the footers: a plain table will do
        table = pa.table({"v": np.arange(sum(groups))})
        with pq.ParquetWriter(folder / f"part.{i}.parquet", table.schema) as writer:
            start = 0
            for size in groups:
                writer.write_table(table.slice(start, size))
                start += size
    specs = chunk_specs(folder, rows=rows, at_most=at_most)
    assert [s.offset for s in specs] == list(np.cumsum([0] + [s.rows for s in specs])[:-1])
    covered = [(s.path, g) for s in specs for g in range(s.start, s.stop)]
    assert covered == [(str(folder / f"part.{i}.parquet"), g) for i, groups in enumerate(files) for g in range(len(groups))]
    for s in specs:
        sizes = files[int(s.path.rsplit(".", 2)[-2])][s.start:s.stop]
        assert s.rows == sum(sizes)
        if at_most:
            assert s.rows <= rows or len(sizes) == 1



def test_a_spill_row_group_holding_several_buckets_is_filtered(tmp_path):
    """A row group of several buckets (not as spill_values writes them) still gives each bucket its own rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gridkit.incidents.spill import SpillFiles, read_bucket

    spill_values(pd.DataFrame({"hours": [1.0, 2.0, 3.0]}), np.array([0, 1, 1], dtype=np.int32),
                 tmp_path / "000000.parquet")
    pq.write_table(pa.table({"hours": [4.0, 5.0, 6.0], "bucket": pa.array([1, 0, 1], type=pa.int32())}),
                   tmp_path / "000001.parquet")
    files = SpillFiles(tmp_path)
    assert read_bucket(files, 1)["hours"].tolist() == [2.0, 3.0, 4.0, 6.0]
    assert read_bucket(tmp_path, 0, ["hours"])["hours"].tolist() == [1.0, 5.0]
    assert list(read_bucket(files, 0, ["hours"]).columns) == ["hours"]
    assert len(read_bucket(files, 7)) == 0

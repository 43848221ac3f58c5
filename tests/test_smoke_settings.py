from gre_agent.core.settings import CacheMode, Settings


def test_env_overrides_toml(tmp_path, monkeypatch):
    toml = tmp_path / "gre.toml"
    toml.write_text('cache_mode = "replay-only"\n[osm]\nbackend = "online"\ntimeout_s = 3\n')
    monkeypatch.setenv("GRE_CONFIG", str(toml))
    monkeypatch.setenv("GRE_OSM__TIMEOUT_S", "7")
    s = Settings()
    assert s.cache_mode is CacheMode.replay_only
    assert s.osm.backend == "online"
    assert s.osm.timeout_s == 7.0
    # family defaults survive a partial section
    assert s.osm.endpoint == "https://overpass-api.de/api/interpreter"
    assert s.backend_for("osm.features_near") == "online"
    assert Settings(offline=True).backend_for("osm.features_near") == "offline"

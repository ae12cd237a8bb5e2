from pathlib import Path

from mara.serve.options import ServeOptions


def test_options_travel_through_the_environment_whole():
    options = ServeOptions(
        home=Path("/srv/home"),
        max_rows=7,
        max_body_bytes=None,
        max_in_flight=3,
        body_timeout_s=2.5,
        capture=False,
        compile_models=False,
        fast_timeout_s=9.0,
        follow_interval_s=0.0,
        shadow_sample=0.5,
        shadow_cpu_share=0.1,
        guard_predict=True,
    )
    assert ServeOptions.from_env(options.to_env()) == options
    assert ServeOptions.from_env(ServeOptions(max_body_bytes=4096).to_env()).max_body_bytes == 4096


def test_unset_variables_take_the_one_default():
    assert ServeOptions.from_env({}) == ServeOptions()
    assert ServeOptions.from_env({"MARA_FAST_TIMEOUT": "2"}).fast_timeout_s == 2.0

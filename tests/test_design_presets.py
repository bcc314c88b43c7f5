"""Every preset that is a plain sequence of design layers opens as a design with the same
parameter count and, with the preset's weights, the same outputs; the others open as a close
design with the same parameter count and a note that says what differs."""

import pytest
import torch

from cnn.errors import ConfigError
from cnn.models import MODELS, count_parameters, get_spec, parse
from cnn.models.design_presets import CLOSE, EXACT, closest_design, design_of_preset, preset_state_as_design
from cnn.training import default_recipe


def test_every_preset_is_exact_or_close_with_a_reason():
    assert set(EXACT) | set(CLOSE) == set(MODELS) and not set(EXACT) & set(CLOSE)


@pytest.mark.parametrize("name", list(EXACT))
def test_exact_design_has_the_presets_parameters_and_outputs(name):
    spec = get_spec(name)
    torch.manual_seed(1)
    preset = spec.build().eval()
    design = parse(design_of_preset(name), spec.input_shape, 10)
    model = design.build().eval()
    assert design.params == count_parameters(model) == count_parameters(preset)
    # trained-looking batch-norm statistics, so that eval mode uses them
    with torch.no_grad():
        for m in preset.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    model.load_state_dict(preset_state_as_design(preset.state_dict(), model.state_dict()))
    x = torch.randn(8, *spec.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), preset(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(CLOSE))
def test_other_presets_are_refused_with_the_reason_and_open_close(name):
    with pytest.raises(ConfigError, match=f"{name} is not a plain sequence of design layers: "):
        design_of_preset(name)
    layers, note = closest_design(name)
    spec = get_spec(name)
    assert note.startswith(f"Close to {name}, not the same:")
    assert parse(layers, spec.input_shape, 10).params == count_parameters(spec.build())


def test_a_design_fits_other_class_counts_and_channels():
    layers = design_of_preset("seed004_simplecnn")
    assert parse(layers, (1, 32, 32), 3).build()(torch.zeros(2, 1, 32, 32)).shape == (2, 3)
    with pytest.raises(ConfigError, match="Unknown model 'nope'"):
        design_of_preset("nope")


@pytest.mark.parametrize("name", list(MODELS))
def test_every_preset_fits_the_size_limits_at_its_recipes_batch(name):
    spec = get_spec(name)
    parse(closest_design(name)[0], spec.input_shape, 10, batch_size=default_recipe(name).batch_size)

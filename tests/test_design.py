"""Designs (cnn.models.design): checked, worked out arithmetically, built, shown, compared.

The arithmetic is checked against real forward passes; the PyTorch code is run here, in a test
only (the app never evaluates code), and compared with the built model."""

import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnn.errors import ConfigError
from cnn.models import count_parameters, parse
from cnn.models.design import MAX_ACTIVATION_BYTES, MAX_MACS, MAX_PARAMETERS, diff, load_layers, summary

ROOT = Path(__file__).resolve().parents[1]
LENET = json.loads((ROOT / "examples" / "lenet5.json").read_text())

C, R, F = {"layer": "Conv2d"}, {"layer": "ReLU"}, {"layer": "Flatten"}


def conv(out, k, **kw):
    return {"layer": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


# Designs that use every layer and argument in shapes that exercise the arithmetic's corners.
VARIED = [
    (LENET, (1, 28, 28)),
    (
        [
            conv(8, [3, 5], stride=[1, 2], padding=[1, 2], bias=False),
            {"layer": "BatchNorm2d", "eps": 1e-3, "momentum": 0.2},
            {"layer": "LeakyReLU", "negative_slope": 0.1},
            {"layer": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
            conv(8, 3, dilation=2, padding="same", groups=4),
            {"layer": "GELU", "approximate": "tanh"},
            {"layer": "AvgPool2d", "kernel_size": 2, "ceil_mode": True, "count_include_pad": False},
            {"layer": "Dropout2d", "p": 0.1},
            {"layer": "AdaptiveAvgPool2d", "output_size": [3, 2]},
            F,
            {"layer": "Linear", "out_features": 20, "bias": False},
            {"layer": "BatchNorm1d", "affine": False},
            {"layer": "SiLU"},
            {"layer": "Dropout", "p": 0.5},
            {"layer": "Linear"},
            {"layer": "Tanh"},
        ],
        (3, 31, 29),
    ),
    (
        [
            conv(16, 3, padding=1),
            {
                "layer": "Residual",
                "layers": [
                    conv(32, 3, padding=1),
                    {"layer": "Sigmoid"},
                    {"layer": "Residual", "layers": [conv(32, 1)]},
                ],
            },
            {"layer": "Residual", "layers": [conv(32, 3, padding="same"), R]},
            {"layer": "AdaptiveMaxPool2d", "output_size": 1},
            F,
            {"layer": "Residual", "layers": [{"layer": "Linear", "out_features": 32}, R]},
            {"layer": "Linear", "out_features": 10},
        ],
        (3, 32, 32),
    ),
    (
        [
            conv(4, 3, padding="valid"),
            {"layer": "MaxPool2d", "kernel_size": 2, "ceil_mode": True},
            F,
            {"layer": "Linear"},
        ],
        (1, 7, 7),
    ),
]


@pytest.mark.parametrize("layers,shape", VARIED, ids=["lenet", "every-argument", "residual", "ceil"])
def test_arithmetic_matches_a_real_forward_pass(layers, shape):
    d = parse(layers, shape, 10)
    model = d.build().eval()
    assert d.params == count_parameters(model)
    # every leaf but a Residual's shortcut is a row, in the same order
    leaves = [m for n, m in model.named_modules() if not list(m.children()) and not n.endswith("shortcut")]
    rows = [n for n in d.rows if n.name != "Residual"]
    assert [type(m).__name__ for m in leaves] == [n.name for n in rows]
    seen = {}

    def record(module, _inputs, output):
        seen[module] = tuple(output.shape[1:])

    hooks = [m.register_forward_hook(record) for m in leaves]
    out = model(torch.randn(2, *shape))
    for h in hooks:
        h.remove()
    assert out.shape == (2, 10)
    assert [seen[m] for m in leaves] == [n.layer.shape for n in rows]
    residuals = [m for m in model.modules() if type(m).__name__ == "Residual"]
    assert len(residuals) == sum(n.name == "Residual" for n in d.rows)


def test_lenet5_table_counts_and_costs():
    d = parse(LENET, (1, 28, 28), 10)
    assert d.params == 61_706
    rows = d.table()
    assert rows[0] == ["1", "Conv2d", "out_channels=6, kernel_size=5, padding=2", "6x28x28", 156, 6 * 28 * 28 * 25]
    assert rows[6][3] == "400" and rows[-1][1:] == ["Linear", "", "10", 850, 840]
    assert d.macs == sum(r[5] for r in rows) == 416_520
    text = d.format_table()
    assert "Total params: 61,706" in text and "Multiply-adds per image: 416,520" in text


def test_in_sizes_are_inferred_and_stated_ones_must_match():
    d = parse(
        [conv(4, 3, in_channels=3), {"layer": "BatchNorm2d", "num_features": 4}, F, {"layer": "Linear"}], (3, 8, 8), 5
    )
    assert d.build()[0].in_channels == 3 and d.build()[-1].in_features == 4 * 6 * 6
    with pytest.raises(ConfigError, match=r"layer 1, Conv2d: in_channels is 1, but the input has 3"):
        parse([conv(4, 3, in_channels=1), F, {"layer": "Linear"}], (3, 8, 8), 5)
    with pytest.raises(ConfigError, match=r"layer 4, Linear: out_features is 7, but the data set has 5 classes"):
        parse(
            [conv(4, 3), F, {"layer": "Linear", "out_features": 9}, {"layer": "Linear", "out_features": 7}],
            (3, 8, 8),
            5,
        )
    with pytest.raises(ConfigError, match=r"layer 3, Linear: out_features is missing"):
        parse([conv(4, 3), F, {"layer": "Linear"}, {"layer": "Linear"}], (3, 8, 8), 5)


@pytest.mark.parametrize(
    "design,message",
    [
        ('[{"layer": "Conv2d", ', r"not valid JSON: Expecting .* line 1, column"),
        ("", r"The design is empty"),
        ("{}", r"is a JSON list of layers"),
        ("[]", r"has no layers"),
        ([5], r"layer 1: each layer is an object"),
        ([{"out_channels": 3}], r'layer 1: it has no "layer" name'),
        ([{"layer": "Conv3d"}], r"layer 1: unknown layer 'Conv3d'; did you mean Conv2d\?"),
        ([{"layer": "relu"}, F, {"layer": "Linear"}], r"unknown layer 'relu'; did you mean ReLU\?"),
        ([conv(4, 3, kernal=3), F, {"layer": "Linear"}], r"layer 1, Conv2d: unknown argument 'kernal'"),
        ([{"layer": "ReLU", "inplace": True}, F, {"layer": "Linear"}], r"unknown argument 'inplace'; it takes no"),
        ([conv(4, "3"), F, {"layer": "Linear"}], r"kernel_size must be a whole number or a pair .*, not '3'"),
        ([conv(4, 3.5), F, {"layer": "Linear"}], r"kernel_size must be a whole number"),
        ([conv(True, 3), F, {"layer": "Linear"}], r"out_channels must be a whole number, not true"),
        ([conv(4, 3, bias=1), F, {"layer": "Linear"}], r"bias must be true or false, not 1"),
        ([conv(4, [3, 3, 3]), F, {"layer": "Linear"}], r"kernel_size must be a whole number or a pair"),
        ([conv(0, 3), F, {"layer": "Linear"}], r"layer 1, Conv2d: out_channels must be at least 1, not 0"),
        ([conv(4, -3), F, {"layer": "Linear"}], r"kernel_size must be at least 1, not -3"),
        ([conv(4, 3), {"layer": "Dropout", "p": 1}, F, {"layer": "Linear"}], r"p must be below 1, not 1"),
        (
            [conv(4, 3), F, {"layer": "Linear", "out_features": -2}, {"layer": "Linear"}],
            r"out_features must be at least 1",
        ),
        ([{"layer": "Conv2d", "kernel_size": 3}, F, {"layer": "Linear"}], r"out_channels is missing"),
        (
            [conv(4, 3), {"layer": "MaxPool2d", "kernel_size": 2}] * 3 + [conv(4, 5), F, {"layer": "Linear"}],
            r"layer 7, Conv2d: a 5x5 kernel does not fit the 1x1 input; add padding or remove a pooling layer",
        ),
        (
            [{"layer": "MaxPool2d", "kernel_size": 2}] * 6 + [F, {"layer": "Linear"}],
            r"layer 5, MaxPool2d: a 2x2 pooling does not fit the 1x1 input",
        ),
        ([conv(4, 3, stride=2, padding="same"), F, {"layer": "Linear"}], r"padding 'same' needs stride 1"),
        ([conv(6, 3, groups=4), F, {"layer": "Linear"}], r"groups 4 must divide both the 1 input channels"),
        ([F, conv(4, 3), {"layer": "Linear"}], r"layer 2, Conv2d: needs an image .* but gets 784 flat features"),
        ([{"layer": "Linear"}], r"layer 1, Linear: needs flat features, but gets a 1x28x28 image; add a Flatten"),
        ([{"layer": "BatchNorm1d"}, F, {"layer": "Linear"}], r"or use BatchNorm2d"),
        ([conv(4, 3), R], r"has no classifier: end it with a Flatten and a Linear"),
        ([F, {"layer": "Linear"}, {"layer": "Linear"}], r"layer 2, Linear: out_features is missing"),
        ([F, {"layer": "Linear", "out_features": 10}, {"layer": "Residual", "layers": []}], r'"layers" must be'),
        (
            [{"layer": "Residual", "layers": [conv(4, 3)]}, F, {"layer": "Linear"}],
            r"layer 1, Residual: its layers turn 1x28x28 into 4x26x26; .* Remove the stride or pooling",
        ),
        ([{"layer": "Residual", "layers": [conv(4, 3, kernal=1)]}], r"layer 1\.1, Conv2d: unknown argument 'kernal'"),
        ([{"layer": "Residual", "layers": [R], "skip": 1}], r"layer 1, Residual: unknown argument 'skip'"),
        (
            [{"layer": "AdaptiveAvgPool2d", "output_size": 1}, F, {"layer": "Linear"}, {"layer": "ReLU"}, conv(2, 1)],
            r"layer 5",
        ),
    ],
)
def test_every_bad_design_names_the_layer_and_what_to_do(design, message):
    with pytest.raises(ConfigError, match=message):
        parse(design, (1, 28, 28), 10)


def test_nothing_in_a_design_is_evaluated():
    # names are looked up in the allow-list, never in torch.nn or Python
    for name in ("__import__", "Module", "Sequential", "Conv2d.__init__", "os.system"):
        with pytest.raises(ConfigError, match="unknown layer"):
            parse([{"layer": name}, F, {"layer": "Linear"}], (1, 28, 28), 10)
    with pytest.raises(ConfigError, match="must be 'none' or 'tanh'"):
        parse([{"layer": "GELU", "approximate": "__import__('os')"}, F, {"layer": "Linear"}], (1, 28, 28), 10)


def test_limits_say_the_size_and_the_limit():
    big_linear = [conv(64, 3, padding=1), F, {"layer": "Linear", "out_features": 4096}, {"layer": "Linear"}]
    params = 64 * 10 + 64 * 28 * 28 * 4096 + 4096 + 4096 * 10 + 10
    with pytest.raises(ConfigError, match=rf"too big: {params:,} parameters; the limit is {MAX_PARAMETERS:,}"):
        parse(big_linear, (1, 28, 28), 10)
    many_macs = [conv(512, 3, padding=1), conv(512, 3, padding=1), {"layer": "AdaptiveAvgPool2d", "output_size": 1}]
    many_macs += [F, {"layer": "Linear"}]
    with pytest.raises(ConfigError, match=rf"multiply-adds per image; the limit is {MAX_MACS:,}"):
        parse(many_macs, (3, 32, 32), 10)
    wide = [conv(256, 1), {"layer": "AdaptiveAvgPool2d", "output_size": 1}, F, {"layer": "Linear"}]
    d = parse(wide, (3, 64, 64), 10, batch_size=None)  # unchecked: the editor still shows its table
    batch = math.ceil(MAX_ACTIVATION_BYTES / d.activation_bytes(1)) + 1
    limit = MAX_ACTIVATION_BYTES // 1024**3
    with pytest.raises(
        ConfigError, match=rf"too big for batch size {batch}: training needs about .* limit is {limit} GiB"
    ):
        d.check_limits(batch)
    d.check_limits(batch - 2)
    with pytest.raises(ConfigError, match="more than 300 layers"):
        parse([R] * 301 + [F, {"layer": "Linear"}], (1, 28, 28), 10)
    with pytest.raises(ConfigError, match="nest 4 deep at most"):
        nested = [R]
        for _ in range(5):
            nested = [{"layer": "Residual", "layers": nested}]
        parse([*nested, F, {"layer": "Linear"}], (1, 28, 28), 10)


def test_pytorch_code_builds_the_same_network():
    for layers, shape in VARIED:
        d = parse(layers, shape, 10)
        code = d.pytorch_code()
        assert "nn.Sequential(" in code and "import torch.nn as nn" in code
        space = {}
        exec(code, space)  # the test runs the code a person would copy; the app never does
        theirs, ours = space["model"], d.build()
        assert count_parameters(theirs) == count_parameters(ours) == d.params
        theirs.load_state_dict(ours.state_dict())  # the same keys: the app's weights load into it
        x = torch.randn(3, *shape)
        torch.testing.assert_close(theirs.eval()(x), ours.eval()(x))
    assert "nn.Conv2d(1, 6, kernel_size=5, padding=2)," in parse(LENET, (1, 28, 28), 10).pytorch_code()


def test_json_round_trips_and_keys_are_stable():
    for layers, shape in VARIED:
        d = parse(layers, shape, 10)
        again = parse(d.to_json(), shape, 10)
        assert again.layers == d.layers == json.loads(d.to_json())
        assert list(again.build().state_dict()) == list(d.build().state_dict())
    keys = list(parse(VARIED[2][0], (3, 32, 32), 10).build().state_dict())
    assert "1.body.0.weight" in keys and "1.shortcut.weight" in keys and "1.body.2.body.0.weight" in keys
    assert load_layers(json.dumps(LENET)) == LENET


def test_picture_draws_a_block_per_layer():
    d = parse(VARIED[2][0], (3, 32, 32), 10)
    svg = d.picture()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<title>") == 1 + sum(n.name != "Residual" for n in d.rows)  # the input, then each layer
    assert svg.count("+ (layer") == 4  # an arc over each Residual (one inside another)
    lenet = parse(LENET, (1, 28, 28), 10).picture()
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', lenet)]
    assert heights[1] > heights[3] > heights[6]  # 28x28 maps drawn taller than 14x14, than 5x5


def test_summary_and_diff():
    assert summary(LENET, 10) == "Conv6-AvgPool-Conv16-AvgPool-Linear120-Linear84-Linear10"
    assert summary(LENET) == "Conv6-AvgPool-Conv16-AvgPool-Linear120-Linear84-Linear"
    long = [conv(8, 3, padding=1), R] * 30 + [F, {"layer": "Linear"}]
    assert summary(long, 10) == "Conv8-Conv8-Conv8-...-Conv8-Linear10"
    assert summary(VARIED[2][0], 10) == "Conv16-Res(Conv32-Res(Conv32))-...-Res(Linear32)-Linear10"
    assert (
        summary(VARIED[2][0][:3] + [F, {"layer": "Linear"}], 10)
        == "Conv16-Res(Conv32-Res(Conv32))-Res(Conv32)-Linear10"
    )
    changed = json.loads(json.dumps(LENET))
    changed[3]["kernel_size"] = 3
    changed[3]["padding"] = 1
    del changed[5]  # the second pooling
    changed.insert(0, {"layer": "Dropout", "p": 0.1})
    assert diff(LENET, changed) == [
        "layer 1 Dropout added (p=0.1)",
        "layer 5 Conv2d: kernel_size 5 → 3",
        "layer 5 Conv2d: padding (default) → 1",
        "layer 6 AvgPool2d removed",
    ]
    assert diff(LENET, LENET) == []
    swapped = json.loads(json.dumps(LENET))
    swapped[2] = {"layer": "MaxPool2d", "kernel_size": 2}
    assert diff(LENET, swapped) == ["layer 3: AvgPool2d → MaxPool2d (kernel_size=2)"]
    inner = [{"layer": "Residual", "layers": [conv(4, 3, padding=1)]}, F, {"layer": "Linear"}]
    inner2 = [{"layer": "Residual", "layers": [conv(4, 5, padding=2)]}, F, {"layer": "Linear"}]
    assert diff(inner, inner2) == ["layer 1.1 Conv2d: kernel_size 3 → 5", "layer 1.1 Conv2d: padding 1 → 2"]


def test_built_modules_are_torch_nn_layers():
    model = parse(LENET, (1, 28, 28), 10).build()
    assert isinstance(model, nn.Sequential)
    assert [type(m).__name__ for m in model] == [x["layer"] for x in LENET]


def test_a_design_travels_in_a_link_and_a_bad_token_is_refused():
    import base64
    import zlib

    from cnn.models.design_link import design_from_token, design_to_token

    token = design_to_token(VARIED[2][0])
    assert design_from_token(token) == VARIED[2][0] and len(token) < 400
    assert all(c.isalnum() or c in "-_" for c in token)  # safe in a URL as it is
    changed = token[:20] + ("B" if token[20] != "B" else "C") + token[21:]  # zlib's checksum catches it
    for bad in ("", "!!!", token[:-6], changed, "x" * 30_000):
        with pytest.raises(ConfigError, match="damaged"):
            design_from_token(bad)
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" + b" " * 10_000_000 + b"]", 9)).decode()
    assert len(bomb) < 20_000
    with pytest.raises(ConfigError, match="damaged"):
        design_from_token(bomb)
    with pytest.raises(ConfigError, match="not valid JSON"):
        design_from_token(base64.urlsafe_b64encode(zlib.compress(b"[{]")).decode())

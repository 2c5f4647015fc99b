"""The frame explorer: every view renders, the flow pass is cached per pair, controls update the picture."""
import numpy as np
import pytest
import torch

from slomo import viz
from slomo.model import SuperSloMo
from slomo.widgets import VIEWS, FrameExplorer, VideoUpload


@pytest.fixture
def clip(rng):
    base = torch.rand(1, 3, 48, 72, generator=rng)
    return [viz.to_uint8(torch.roll(base, shifts=(0, 2 * k), dims=(2, 3))) for k in range(4)]


@pytest.fixture
def counting_model():
    torch.manual_seed(0)
    model = SuperSloMo(width=0.125, flow="dis")
    calls = []
    original = model.flows

    def flows(I0, I1):
        calls.append(I0.shape)
        return original(I0, I1)
    model.flows = flows
    return model, calls


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_renders(clip, counting_model, view):
    model, _ = counting_model
    img = FrameExplorer(model, clip, methods=("duplicate", "blend", "flow")).render(1, 0.3, view)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[1] >= 72 and img.std() > 0


def test_flow_pass_is_cached_per_pair(clip, counting_model):
    model, calls = counting_model
    ex = FrameExplorer(model, clip)
    for t in (0.1, 0.5, 0.9):
        ex.render(0, t)
    assert len(calls) == 1 and calls[0][-2:] == clip[0].shape[:2]  # once per pair, at the frame size
    ex.render(2, 0.5)
    assert len(calls) == 2


def test_explorer_frames_equal_model_interpolate(clip, counting_model):
    model, _ = counting_model
    ex = FrameExplorer(model, clip)
    I0, I1 = viz.to_tensor(clip[1]), viz.to_tensor(clip[2])
    want = model.interpolate(I0, I1, [0.3])[:, 0]
    assert torch.allclose(ex.result(1, 0.3)["It"], want, atol=1e-4)


def test_interpolated_view_shows_the_inputs_at_their_places(clip, counting_model):
    model, _ = counting_model
    img = FrameExplorer(model, clip).render(0, 0.5, "interpolated")
    band = img.shape[0] - 48
    assert np.array_equal(img[band:, :72], clip[0])
    assert np.array_equal(img[band:, -72:], clip[1])


def test_moving_t_changes_the_image_and_status(clip, counting_model):
    model, _ = counting_model
    ex = FrameExplorer(model, clip)
    ex.widget()
    before = ex.image.value
    ex.t_slider.value = 0.2
    assert ex.image.value != before and "t = 0.20" in ex.status.value
    ex.view_buttons.value = "flows"
    ex.pair_slider.value = 2
    assert ex.pair == 2 and ex.view == "flows"


def test_bad_arguments_are_refused(clip, counting_model):
    model, _ = counting_model
    with pytest.raises(ValueError):
        FrameExplorer(model, clip[:1])
    with pytest.raises(ValueError):
        FrameExplorer(model, clip, view="nope")
    with pytest.raises(IndexError):
        FrameExplorer(model, clip).render(3, 0.5)


def test_upload_saves_the_file(tmp_path):
    up = VideoUpload(tmp_path / "uploads")
    assert up.path is None
    up._on_upload({"new": [{"name": "my holiday clip.mp4", "content": memoryview(b"abc")}]})
    assert up.path == tmp_path / "uploads" / "my holiday clip.mp4" and up.path.read_bytes() == b"abc"


def test_frame_numbers_are_those_of_the_clip(clip, counting_model):
    model, _ = counting_model
    ex = FrameExplorer(model, clip, frame_numbers=range(12, 16))
    ex.widget()
    assert [label for label, _ in ex.pair_slider.options] == ["12 -> 13", "13 -> 14", "14 -> 15"]
    assert ex.status.value.startswith("frames 12 -> 13, t = 0.50")
    ex.pair_slider.value = 2
    assert ex.status.value.startswith("frames 14 -> 15")
    default = FrameExplorer(model, clip)
    default.widget()
    assert default.status.value.startswith("frames 0 -> 1")
    with pytest.raises(ValueError, match="frame numbers"):
        FrameExplorer(model, clip, frame_numbers=[0, 1])


def test_frame_labels_change_with_the_numbers(clip, counting_model):
    """The labels are drawn into the picture: other numbers, other pixels in the label band only."""
    model, _ = counting_model
    for view in ("interpolated", "flows"):
        a = FrameExplorer(model, clip, view=view).render(0, 0.5)
        b = FrameExplorer(model, clip, view=view, frame_numbers=range(40, 44)).render(0, 0.5)
        assert a.shape == b.shape and not np.array_equal(a, b)


def test_upload_note_is_shown_above_the_button(tmp_path):
    up = VideoUpload(tmp_path, max_mb=7, note="use the <b>file browser</b>")
    assert up.box.children[0] is up.note and "7 MB" in up.message.value
    plain = VideoUpload(tmp_path)
    assert plain.box.children[0] is plain.button

"""slomo.train.state: a state.pt that a Trainer saved resumes to the very next loss, and bad files are refused."""
import pytest
import torch
from _frames import write_sequence

from slomo.data import prepare
from slomo.errors import CheckpointError
from slomo.train import TrainConfig, Trainer
from slomo.train.state import read_state


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("state")
    for k in range(2):
        write_sequence(root / "src" / f"v{k}", 8, seed=k)
    return prepare(root / "src", root / "ds", clip_length=4, split=(1, 0, 0), progress=False).output


def _config(dataset, out):
    return TrainConfig(data=str(dataset), out=str(out), model={"width": 0.125, "flow": "unet"}, steps=10,
                       batch_size=2, crop=32, lr=1e-3, threads=1, progress=False,
                       weights={"reconstruction": 1.0, "warping": 0.5, "smoothness": 0.01})


def test_a_saved_state_resumes_to_the_same_next_losses(dataset, tmp_path):
    first = Trainer(_config(dataset, tmp_path))
    for _ in range(3):
        first.step()
    path = first.save_state()
    ahead = [first.step()[0] for _ in range(2)]  # what the run would have done without stopping
    first.close()
    torch.manual_seed(123)  # a resumed process starts from other RNG states
    resumed = Trainer(_config(dataset, tmp_path))
    resumed.load_state(path)
    assert resumed.step_no == 3
    assert [resumed.step()[0] for _ in range(2)] == ahead  # exactly: same batches, weights, optimizer
    resumed.close()
    state = read_state(path)
    assert {"step", "model", "opt", "sched", "rng", "best", "history", "config"} <= set(state)


def test_a_state_of_another_model_or_kind_is_refused(dataset, tmp_path):
    trainer = Trainer(_config(dataset, tmp_path / "a"))
    (tmp_path / "a").mkdir()
    path = trainer.save_state()
    other = Trainer(TrainConfig(**{**_config(dataset, tmp_path / "b").to_dict(), "model": {"width": 0.25}}))
    with pytest.raises(CheckpointError, match="does not fit the run.*--fresh"):
        other.load_state(path)
    torch.save({"step": 1}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a training state"):
        read_state(tmp_path / "plain.pt")
    trainer.close()
    other.close()


def test_the_learning_curve_reads_validation_history_and_training_terms(tmp_path, capsys):
    from tensorboardX import SummaryWriter

    from conftest import checkpoint_script
    hist = [{"step": 0, "psnr": 29.0, "separation": 0.0, "front_end_psnr": 29.5},
            {"step": 10, "psnr": 29.8, "separation": 0.05, "front_end_psnr": 29.5}]
    torch.save({"step": 10, "config": {"batch_size": 4}, "history": hist}, tmp_path / "state.pt")
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(1, 11):
            writer.add_scalar("train/reconstruction", 0.01 * step, step)
            writer.add_scalar("train/visibility", 0.7, step)
    assert checkpoint_script("learning_curve").main([str(tmp_path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 40")]
    assert rows == ["| 40 | 29.80 | +0.30 | 0.050 | 0.0550 | 0.700 |"]  # mean of steps 1..10

"""The hidden model behind synthetic campaign files: per-app truths and fake measurements.

- App i is "synthetic-<iiii>" on targets[i % len(targets)] (variant, partition). Its baseline
  energy per run is log-normal (median 30 J, clipped to 1-1000 J), its dynamic power 60-300 W
  (so its duration is energy / power), its idle power 35-70 W and its run-to-run CV 1-6 %.
- Per strategy each app has a true gain (the mean fraction of the baseline's energy that a
  passing candidate saves; negative: its candidates cost more) and a pass probability (that one
  answer's code passes every gate). lassi-ee's gain is 3-10 points above vanilla's and its pass
  probability 1.1-1.8 times vanilla's.
- A measurement of a version with true energy E and duration T draws each repetition's energy
  around E with the app's CV, its duration around T, and a power trace: a ramp up, a plateau
  whose mean is the repetition's average power, a ramp down, 1.5 % noise, 10 ms apart.

Every draw comes from a numpy generator seeded with (seed, app index, ...), so an app's truths and
trials do not depend on how many apps the campaign has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lassi_hpc.energy.stats import summarize
from lassi_hpc.errors import LassiError
from lassi_hpc.records import (
    DeviceIdentity,
    EnergyMeasurement,
    EnergyMethod,
    PowerTrace,
    RepetitionEnergy,
    Strategy,
)

SYNTHETIC_FLAG = "synthetic"
SYNTHETIC_HOST = "synthetic"
TRACE_PERIOD_S = 0.01


class SyntheticCampaignError(LassiError):
    """The parameters of a synthetic campaign are unusable."""


@dataclass(frozen=True)
class SyntheticSettings:
    """How a synthetic campaign is drawn: strategies (Strategy values), (variant, partition)
    targets, repetitions per measurement, samples per power trace, and the seed."""

    strategies: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    repetitions: int
    trace_samples: int
    seed: int


@dataclass(frozen=True)
class StrategyTruth:
    """What one strategy can do for one app (hidden from the file).

    `true_gain` and `speed_gain`: mean fractions of the baseline's energy and duration that a
    passing candidate saves (0.2 = 20 %; negative: it costs more). `pass_probability`: the chance
    that one answer's code passes every gate.
    """

    strategy: str  # a Strategy value
    true_gain: float
    speed_gain: float
    pass_probability: float


@dataclass(frozen=True)
class SyntheticApp:
    """One synthetic app variant and the hidden truths its records were drawn from.

    `baseline_energy_j` (J per run), `baseline_duration_s` (s per run) and `idle_power_w` (W) are
    the true values that measurements scatter around with run-to-run CV `baseline_cv` (a fraction).
    """

    index: int
    name: str
    variant: str
    partition: str
    baseline_energy_j: float
    baseline_duration_s: float
    idle_power_w: float
    baseline_cv: float
    truths: tuple[StrategyTruth, ...]

    def truth(self, strategy: str) -> StrategyTruth:
        """The truth of `strategy` (a Strategy value) for this app."""
        for truth in self.truths:
            if truth.strategy == strategy:
                return truth
        known = ", ".join(t.strategy for t in self.truths)
        raise SyntheticCampaignError(f"app {self.name}: no strategy {strategy!r}; has: {known}")


def app_name(index: int) -> str:
    """The name of synthetic app `index`: "synthetic-0007"."""
    return f"synthetic-{index:04d}"


def fake_device(partition: str) -> DeviceIdentity:
    """The one fake GPU that every measurement on `partition` is made on."""
    return DeviceIdentity(
        backend="fake",
        kind="gpu",
        name="Synthetic GPU (fake)",
        uid=f"fake-{partition}-0",
        host=SYNTHETIC_HOST,
        is_fake=True,
    )


def draw_app(settings: SyntheticSettings, index: int) -> SyntheticApp:
    """The truths of app `index`, drawn from (seed, index) alone."""
    rng = np.random.default_rng((settings.seed, index))
    energy_j = float(np.clip(rng.lognormal(math.log(30.0), 1.3), 1.0, 1000.0))
    dynamic_power_w = float(rng.uniform(60.0, 300.0))
    idle_power_w = float(rng.uniform(35.0, 70.0))
    cv = float(rng.uniform(0.01, 0.06))
    gain = float(rng.normal(0.10, 0.12))
    speed_gain = gain * float(rng.uniform(0.3, 1.0))
    pass_probability = float(rng.beta(2.0, 4.0))
    # Vanilla (one prompt, no measurement fed back) gets less of the same app.
    vanilla_loss = float(rng.uniform(0.03, 0.10))
    vanilla_pass = float(rng.uniform(0.55, 0.90))
    truths = {
        Strategy.LASSI_EE.value: StrategyTruth(
            Strategy.LASSI_EE.value, gain, speed_gain, pass_probability
        ),
        Strategy.VANILLA.value: StrategyTruth(
            Strategy.VANILLA.value,
            gain - vanilla_loss,
            speed_gain - vanilla_loss / 2,
            pass_probability * vanilla_pass,
        ),
    }
    variant, partition = settings.targets[index % len(settings.targets)]
    return SyntheticApp(
        index=index,
        name=app_name(index),
        variant=variant,
        partition=partition,
        baseline_energy_j=energy_j,
        baseline_duration_s=energy_j / dynamic_power_w,
        idle_power_w=idle_power_w,
        baseline_cv=cv,
        truths=tuple(truths[strategy] for strategy in settings.strategies),
    )


@dataclass(frozen=True)
class TraceShape:
    """What every power trace of a campaign shares: its time axis (s) and the profile of its power
    (ramp up, plateau, ramp down; scaled to mean 1)."""

    time_s: tuple[float, ...]
    profile: npt.NDArray[np.float64]

    @classmethod
    def of(cls, samples: int) -> TraceShape:
        """The shape of traces of `samples` samples (2 or more)."""
        profile = np.ones(samples)
        up, down = max(1, samples // 20), max(1, samples // 30)
        profile[:up] = np.linspace(0.0, 1.0, up, endpoint=False)
        profile[samples - down :] = np.linspace(1.0, 0.0, down + 1)[1:]
        time_s = tuple((np.arange(samples) * TRACE_PERIOD_S).tolist())
        return cls(time_s=time_s, profile=profile / profile.mean())


def fake_measurement(
    rng: np.random.Generator,
    app: SyntheticApp,
    repetitions: int,
    shape: TraceShape,
    energy_j: float,
    duration_s: float,
) -> EnergyMeasurement:
    """A measurement of a version whose true energy per run is `energy_j` (J) and duration
    `duration_s` (s): `repetitions` repetitions with the app's noise, each with a power trace."""
    cv = app.baseline_cv
    noise = rng.standard_normal((3, repetitions))
    energies_j = energy_j * np.maximum(1.0 + cv * noise[0], 0.05)
    durations_s = duration_s * np.maximum(1.0 + 0.5 * cv * noise[1], 0.05)
    idles_w = app.idle_power_w * (1.0 + 0.01 * noise[2])
    # Energy per run is measured above idle: E = (P - P_idle) * T.
    powers_w = idles_w + energies_j / durations_s
    window_s = len(shape.time_s) * TRACE_PERIOD_S
    runs_in_window = max(1, int(window_s / duration_s))
    traces_w = idles_w[:, None] + (powers_w - idles_w)[:, None] * shape.profile[None, :]
    traces_w += 0.015 * powers_w[:, None] * rng.standard_normal(traces_w.shape)
    reps = tuple(
        RepetitionEnergy(
            energy_j=energy,
            duration_s=duration,
            average_power_w=power,
            idle_power_w=idle,
            runs_in_window=runs_in_window,
            trace=PowerTrace(time_s=shape.time_s, power_w=tuple(trace)),
        )
        for energy, duration, power, idle, trace in zip(
            energies_j.tolist(),
            durations_s.tolist(),
            powers_w.tolist(),
            idles_w.tolist(),
            traces_w.tolist(),
            strict=True,
        )
    )
    stats = summarize(energies_j.tolist())
    return EnergyMeasurement(
        method=EnergyMethod.COUNTER,
        backend="fake",
        devices=(fake_device(app.partition),),
        repetitions=reps,
        energy_j_mean=stats.mean,
        energy_j_sd=stats.sd,
        energy_j_ci95=stats.ci95,
        energy_cv=stats.cv,
        duration_s_mean=float(durations_s.mean()),
        average_power_w_mean=float(powers_w.mean()),
        flags=(*stats.flags, SYNTHETIC_FLAG),
    )

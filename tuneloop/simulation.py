"""Simulated users: they ask the running bot through its HTTP API and rate what they read.

Each user judges an answer with a hidden rubric: close to the shop's reference answer is
good (thumbs up, 4-5 stars); vague is middling; wrong or rude is bad (thumbs down, often a
regeneration, sometimes a correction with the right answer; rudeness gets flagged). Trolls
coordinate the other way, as Tay's did: they reward rude answers, punish good ones and
"correct" answers into insults.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from bot.client import Answer, BotClient
from trainer.corpus import Topic, classify_answer


@dataclass(frozen=True)
class Population:
    users: int = 24
    questions_per_user: int = 4
    troll_share: float = 0.0
    held_out_share: float = 0.3  # questions asked in phrasings the model never trained on
    noise: float = 0.05  # chance that a user's thumb goes the other way
    regenerate_rate: float = 0.5  # after a bad answer
    correction_rate: float = 0.2  # after a wrong or rude answer
    seed: int = 0


@dataclass
class DayResult:
    """What the honest users saw on one day (trolls' views are not the measure)."""

    day: int
    model: str
    first_answers: dict[str, int] = field(default_factory=dict)  # rubric verdict -> count
    held_out_answers: dict[str, int] = field(default_factory=dict)
    ups: int = 0
    thumbs: int = 0

    @property
    def thumbs_up_rate(self) -> float:
        return self.ups / self.thumbs if self.thumbs else 0.0

    def share(self, verdict: str, *, held_out: bool = False) -> float:
        counts = self.held_out_answers if held_out else self.first_answers
        total = sum(counts.values())
        return counts.get(verdict, 0) / total if total else 0.0


@dataclass
class SimulatedUser:
    name: str
    troll: bool
    population: Population
    rng: random.Random

    def rate(self, client: BotClient, topic: Topic, answer: Answer) -> tuple[str, int]:
        """Rate `answer` as this user would; returns the rubric's verdict and the thumb."""
        verdict = classify_answer(topic, answer.text)
        liked = verdict == "rude" if self.troll else verdict == "good"
        if not self.troll and self.rng.random() < self.population.noise:
            liked = not liked
        thumb = 1 if liked else -1
        client.rate(answer.message_id, "thumbs", value=thumb)
        stars = STARS.get(verdict, 2)
        client.rate(answer.message_id, "stars", value=6 - stars if self.troll else stars)
        if verdict == "rude" and not self.troll and self.rng.random() < 0.3:
            client.rate(answer.message_id, "flag", text="rude to the customer")
        return verdict, thumb

    def follow_up(self, client: BotClient, topic: Topic, answer: Answer, verdict: str) -> None:
        """After an answer this user dislikes: correct it, or ask for another one."""
        unhappy = verdict == "good" if self.troll else verdict in {"wrong", "rude", "other"}
        if not unhappy:
            return
        if self.rng.random() < self.population.correction_rate:
            corrected = topic.answers["rude"] if self.troll else topic.reference
            client.rate(answer.message_id, "correction", text=corrected)
        elif self.rng.random() < self.population.regenerate_rate:
            self.rate(client, topic, client.regenerate(answer.message_id))


STARS = {"good": 5, "vague": 3, "wrong": 2, "rude": 1}


def make_users(population: Population, day: int) -> list[SimulatedUser]:
    trolls = round(population.users * population.troll_share)
    return [
        SimulatedUser(
            name=f"{'troll' if index < trolls else 'customer'}-{index}",
            troll=index < trolls,
            population=population,
            rng=random.Random(f"{population.seed}-{day}-{index}"),
        )
        for index in range(population.users)
    ]


def simulate_day(
    client_for: Callable[[str], BotClient],
    topics: list[Topic],
    population: Population,
    *,
    day: int,
    model: str,
) -> DayResult:
    """One day: every user asks their questions, rates the answers, follows up on bad ones."""
    result = DayResult(day=day, model=model)
    users = make_users(population, day)
    asks = population.users * population.questions_per_user
    with tqdm(total=asks, desc=f"day {day}: simulated users", unit="question") as progress:
        for user in users:
            client = client_for(user.name)
            for _ in range(population.questions_per_user):
                topic = user.rng.choice(topics)
                held_out = user.rng.random() < population.held_out_share
                question = user.rng.choice(topic.held_out if held_out else topic.questions)
                answer = client.ask([{"role": "user", "content": question}])
                verdict, thumb = user.rate(client, topic, answer)
                if not user.troll:
                    counts = result.held_out_answers if held_out else result.first_answers
                    counts[verdict] = counts.get(verdict, 0) + 1
                    result.ups += thumb > 0
                    result.thumbs += 1
                user.follow_up(client, topic, answer, verdict)
                progress.update()
    return result

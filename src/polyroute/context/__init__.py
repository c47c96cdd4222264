"""Contextual signals of a prompt: its language, topic, complexity and learned difficulty."""

from polyroute.context._complexity import complexity, has_code
from polyroute.context._difficulty import DifficultyModel, text_features
from polyroute.context._language import detect_language, load_language_model
from polyroute.context._topics import Topic, TopicIndex

__all__ = [
    "DifficultyModel",
    "Topic",
    "TopicIndex",
    "complexity",
    "detect_language",
    "has_code",
    "load_language_model",
    "text_features",
]

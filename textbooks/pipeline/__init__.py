"""The whole recipe as one resumable pipeline (`textbooks run`) and its report."""

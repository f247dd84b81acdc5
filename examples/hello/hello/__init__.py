"""A tiny package: proof that what was uploaded to the project index installs and runs."""

__version__ = "1.0.0"


def main() -> None:
    print(f"hello from hello-pipl {__version__}, installed from the project index")

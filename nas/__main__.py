"""``python -m nas`` runs the command-line interface."""

from nas.cli import main

if __name__ == "__main__":
    main()

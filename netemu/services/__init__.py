"""Services: long-running programs a topology starts in its nodes (`services:`), built-ins included."""

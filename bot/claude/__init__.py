"""The Claude side: the platform client, how files reach Claude, the request and its stream."""

"""Index problems, reported to the user as one clear line (exit code 1), whatever the backend."""


class IndexProblem(Exception):
    """Base for index problems reported to the user as one clear line."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class ModelMismatch(IndexProblem):
    pass

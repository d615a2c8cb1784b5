"""Why a test is skipped where an optional package is missing, said one way:
`pytest.importorskip("keras", reason=NO_KERAS)`."""

NO_KERAS = 'TensorFlow/Keras is not installed: pip install "tuitune[keras]"'
NO_SKLEARN = 'scikit-learn is not installed: pip install "tuitune[keras]"'
NO_RAY = 'Ray is not installed: pip install "tuitune[ray]"'

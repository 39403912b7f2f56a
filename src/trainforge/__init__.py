"""trainforge: data in; a trained, evaluated, registered and served model out.

    import trainforge as tf
    model = tf.train("examples/adult.csv", target="income", time_budget=60)
    print(model.evaluation)
"""

from __future__ import annotations

__version__ = "0.1.0"

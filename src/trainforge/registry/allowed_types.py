"""The exact types a model package may name: what trainforge writes, and nothing else.

A skops file names every type it rebuilds, and rebuilding one may call it (skops calls some
types with arguments from the file, and builds others through ``__setstate__``), so a type is
trusted only by its full name, never by the library it comes from: numpy, scipy and
scikit-learn all hold functions that run code or touch files (``numpy.testing``'s
``runstring`` calls ``exec``; ``numpy.load`` unpickles).

``tests/registry/test_registry_allow_list.py`` writes every kind of model trainforge makes and
checks that each type it records is listed here: an algorithm needing a new type fails there,
naming the type to add. Registering such a model fails too, before any file is published.
"""

from __future__ import annotations

# plain data skops records for containers and JSON values
_BUILTINS = frozenset({
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list",
    "builtins.slice", "builtins.str", "builtins.tuple",
})

# arrays, dtypes and scalars; the RandomState of scikit-learn's MLP (its seeded shuffler)
_NUMPY = frozenset({
    "numpy.bool_", "numpy.dtype", "numpy.float32", "numpy.float64", "numpy.int32",
    "numpy.int64", "numpy.ndarray", "numpy.str_", "numpy.random.mtrand.RandomState",
})

# TablePreprocessor's parts: TF-IDF for text (a FeatureUnion of words and characters in the
# linear style), target encoding of many-level categories with its cross-fitting folds
_PREPROCESSING = frozenset({
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
})

# packages written before TablePreprocessor (tests/registry/golden) hold scikit-learn's own
# pipeline parts: they must keep loading
_EARLIER_PREPROCESSING = frozenset({
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
})

# the catalog's scikit-learn estimators (linear, trees, forests, neighbours, MLP) and what
# their fitted state holds (tree arrays, KD-trees and their metric, MLP's optimiser, the
# target scaler of the MLP regressor)
_ESTIMATORS = frozenset({
    "sklearn.compose._target.TransformedTargetRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    # SGD's loss, kept by its last fit (a stateless Cython object, rebuilt by each partial_fit)
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
})

# segments, anomalies and label spreading: the estimators they wrap
_UNSUPERVISED = frozenset({
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.cluster._kmeans.MiniBatchKMeans",  # k-means on tables over 20,000 rows
    "sklearn.covariance._elliptic_envelope.EllipticEnvelope",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.mixture._gaussian_mixture.GaussianMixture",
    "sklearn.neighbors._lof.LocalOutlierFactor",
    "sklearn.neighbors._unsupervised.NearestNeighbors",
})

# trainforge's own estimators and transformers saved with skops
_TRAINFORGE = frozenset({
    "trainforge.algorithms.anomaly.AnomalyDetector",
    "trainforge.algorithms.anomaly.AnomalyModel",
    "trainforge.algorithms.catalog.AlignedClassifier",
    "trainforge.algorithms.clustering.AgglomerativeSegments",
    "trainforge.algorithms.clustering.ClusteringModel",
    "trainforge.algorithms.clustering.DensitySegments",
    "trainforge.algorithms.clustering.KMeansSegments",
    "trainforge.algorithms.clustering.MixtureSegments",
    "trainforge.algorithms.label_spreading.SpreadLabels",
    "trainforge.algorithms.online.OnlineRegressor",
    "trainforge.data.prepare.TablePreprocessor",
    "trainforge.data.raw_column.RawColumn",
})

SKOPS_TYPES: frozenset[str] = (_BUILTINS | _NUMPY | _PREPROCESSING | _EARLIER_PREPROCESSING
                               | _ESTIMATORS | _UNSUPERVISED | _TRAINFORGE)

# the classes that write and read their own files (``save_native``/``load_native``): the
# boosting libraries' formats, networks and RL policies as safetensors + JSON. A manifest's
# "class" must be one of these exactly; nothing else is imported to load a native file.
NATIVE_CLASSES: frozenset[str] = frozenset({
    "trainforge.algorithms.boosting:CatBoostModel",
    "trainforge.algorithms.boosting:LightGBMModel",
    "trainforge.algorithms.boosting:XGBoostModel",
    "trainforge.algorithms.network:NetworkModel",
    "trainforge.rl.package:PolicyModel",
})

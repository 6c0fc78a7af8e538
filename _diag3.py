import gzip, json, numpy as np
from contract.brief import Brief
from evaluation.fit import grade
from pipeline.features import encode_batch
from pipeline.postprocess import schemes_batch
from pipeline.taste import TasteModel, feature_tables
recs = json.load(gzip.open("tests/pipeline/golden_answers.json.gz", "rt"))
out = np.load("tests/pipeline/golden_outputs.npz"); out = {k: out[k] for k in out.files}
briefs = [Brief.model_validate(r["brief"]) for r in recs]
rng = np.random.default_rng(3)
chunks = [(briefs[s:s+64], encode_batch(briefs[s:s+64], 5<<20), {k: v[s:s+64] for k, v in out.items()}) for s in range(0, len(briefs), 64)]
base = [grade(bs, schemes_batch(bs, e, o)) for bs, e, o in chunks]
for trial in range(6):
    model = TasteModel.build({"x": 5 * rng.standard_normal(feature_tables().width)}, {"x": 1}, 1.0)
    worse_first = worse_all = better = 0; fo = [0, 0]
    for (bs, e, o), g0 in zip(chunks, base):
        g1 = grade(bs, schemes_batch(bs, e, o, taste=model.batch(["x"] * len(bs))))
        f0, f1 = g0.table.rank == 0, g1.table.rank == 0
        worse_first += (g0.all_met[f0] & ~g1.all_met[f1]).sum(); better += (~g0.all_met[f0] & g1.all_met[f1]).sum()
        fo[0] += g0.all_met.sum(); fo[1] += g1.all_met.sum()
    print(trial, "first schemes: newly missing", worse_first, "newly met", better, "| all schemes met:", fo)

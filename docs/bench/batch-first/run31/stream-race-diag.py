import torch
shape = (4, 16)
for label, n_stale in (("8 stale", 8), ("512 stale", 512)):
    stale = [torch.full(shape, 10**9, dtype=torch.int64, device="cuda") for _ in range(n_stale)]
    ptrs = {t.data_ptr() for t in stale}
    del stale
    torch.cuda.synchronize()
    torch.cuda._sleep(2_000_000_000)
    ids = torch.zeros(shape, dtype=torch.int64, device="cuda")
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        seen = ids.clone()
    side.synchronize()
    print(label, "reused block:", ids.data_ptr() in ptrs, "stale values seen on the side stream:", int((seen == 10**9).sum()),
          "default stream still busy:", not torch.cuda.current_stream().query(), flush=True)
    torch.cuda.synchronize()

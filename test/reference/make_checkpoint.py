#!/usr/bin/env python3
"""Writes small PyTorch checkpoints exercising what Harmonia's torch reader must handle, in both
formats, plus a JSON file with the expected (contiguous, row-major) values.

usage: make_checkpoint.py <out_dir>
writes <out_dir>/{zip.pth, legacy.pth, module_zip.pth, module_legacy.pth, expected.json}
"""
import collections
import json
import os
import sys

import torch


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    base = torch.randn(6, 5)
    sd = collections.OrderedDict()
    sd['plain'] = torch.randn(2, 3, 4)
    sd['transposed'] = base.t()  # non-contiguous view (stride (1, 5))
    sd['sliced'] = base[2:5, 1:4]  # view with a storage offset and row stride 5
    sd['row_view'] = base[3]  # contiguous view with a storage offset (15)
    sd['shares_base'] = base  # same storage as the views above
    sd['float64'] = torch.randn(3, dtype=torch.float64)
    sd['float16'] = torch.tensor([0.5, -2.0, 65504.0, 1e-4], dtype=torch.float16)
    sd['int64'] = torch.tensor([1, -7, 123456789], dtype=torch.int64)
    sd['scalar'] = torch.tensor(3.25)
    sd['nested'] = {'inner': torch.arange(4, dtype=torch.float32).reshape(2, 2)}
    sd['param'] = torch.nn.Parameter(torch.randn(3))
    torch.save(sd, os.path.join(out, 'zip.pth'), _use_new_zipfile_serialization=True)
    torch.save(sd, os.path.join(out, 'legacy.pth'), _use_new_zipfile_serialization=False)

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.BatchNorm2d(4))
    msd = net.state_dict()  # OrderedDict with a _metadata attribute, int64 num_batches_tracked
    torch.save(msd, os.path.join(out, 'module_zip.pth'))
    torch.save(msd, os.path.join(out, 'module_legacy.pth'), _use_new_zipfile_serialization=False)

    def flat(t):
        return [float(v) for v in t.detach().double().reshape(-1).tolist()]

    exp = {k: {'shape': list(v.shape), 'values': flat(v)} for k, v in sd.items() if k != 'nested'}
    exp['nested.inner'] = {'shape': [2, 2], 'values': flat(sd['nested']['inner'])}
    mexp = {k: {'shape': list(v.shape), 'values': flat(v)} for k, v in msd.items()}
    json.dump({'sd': exp, 'module': mexp}, open(os.path.join(out, 'expected.json'), 'w'))


if __name__ == '__main__':
    main()

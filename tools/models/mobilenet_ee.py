"""A MobileNetV2-style multi-exit CNN for 28x28 grey images (Fashion-MNIST).

What this file is for: the architecture of splitee's second shipped model
(data/cnn), in the form tools/export.py takes (`--module
tools/models/mobilenet_ee.py:make`). tools/train_cnn.py trains it.

The network (shapes for a 1x28x28 input):
  stem      conv3x3 1->16, BN, ReLU6                          16x28x28
  block 1   inverted residual t=1, 16, stride 1 (+ residual)  16x28x28
  block 2   t=4, 24, stride 2                                 24x14x14
  block 3   t=4, 24, stride 1 (+ residual)                    24x14x14
  block 4   t=4, 32, stride 2                                 32x7x7
  block 5   t=4, 32, stride 1 (+ residual)                    32x7x7
  block 6   t=4, 48, stride 1                                 48x7x7
  block 7   t=4, 48, stride 1 (+ residual)                    48x7x7
  block 8   t=4, 64, stride 2                                 64x4x4
  block 9   t=4, 64, stride 1 (+ residual)                    64x4x4
  block 10  t=4, 96, stride 1                                 96x4x4
An inverted residual block is: pointwise conv to t*C_in, BN, ReLU6 (omitted
when t=1), depthwise 3x3 conv (stride s), BN, ReLU6, pointwise conv to
C_out, BN, and a residual add when s=1 and C_in=C_out (MobileNetV2).

Stage k (what runs between split points k-1 and k) is block k, with the
stem in stage 1; exit k reads stage k's output. Exits 1-9 are global
average pooling and a linear layer; exit 10 (the final classifier) is a
pointwise conv to 192 channels, BN, ReLU6, global average pooling and a
linear layer. The activation a device offloads shrinks with depth: 12,544
values after stage 1, 4,704 after stages 2-3, 1,568-2,352 after 4-7,
1,024 after 8-9 and 1,536 after 10.

`forward(x)` returns the ten exits' logits as a list, shallowest first.
"""
import torch.nn as nn

# (expansion t, output channels, stride) of blocks 1..10
BLOCKS = [(1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 32, 2), (4, 32, 1),
          (4, 48, 1), (4, 48, 1), (4, 64, 2), (4, 64, 1), (4, 96, 1)]
STEM_CHANNELS = 16
FINAL_HEAD_CHANNELS = 192
CLASSES = 10


def conv_bn(cin, cout, kernel, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return layers


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, t, stride):
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else conv_bn(cin, hidden, 1)
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden)
        layers += conv_bn(hidden, cout, 1, act=False)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetEE(nn.Module):
    def __init__(self, classes=CLASSES):
        super().__init__()
        stages, exits = [], []
        cin = STEM_CHANNELS
        for k, (t, c, s) in enumerate(BLOCKS):
            block = InvertedResidual(cin, c, t, s)
            if k == 0:
                block = nn.Sequential(*conv_bn(1, STEM_CHANNELS, 3), block)
            stages.append(block)
            if k + 1 < len(BLOCKS):
                exits.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                           nn.Linear(c, classes)))
            else:
                exits.append(nn.Sequential(*conv_bn(c, FINAL_HEAD_CHANNELS, 1),
                                           nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                           nn.Linear(FINAL_HEAD_CHANNELS, classes)))
            cin = c
        self.stages = nn.ModuleList(stages)
        self.exits = nn.ModuleList(exits)

    def forward(self, x):
        outs = []
        for stage, head in zip(self.stages, self.exits):
            x = stage(x)
            outs.append(head(x))
        return outs


def make():
    """The factory tools/export.py calls (--module ...:make)."""
    return MobileNetEE()

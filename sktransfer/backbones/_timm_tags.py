"""Known timm weight tags of the architectures keras-hub converts (``hf://timm/<arch>.<tag>``).

Several pretrained weights of one architecture, so that comparing "four
weights of ResNet-50" needs no web search. Checked against the ``default_cfgs``
of huggingface/pytorch-image-models (``timm/models/resnet.py``,
``timm/models/densenet.py``). ``tv_in1k`` / ``tv2_in1k`` are torchvision's
``IMAGENET1K_V1`` / ``IMAGENET1K_V2``; ``a1_in1k`` ... ``a3_in1k`` the
"ResNet strikes back" recipes; ``gluon_in1k`` Gluon's; ``fb_ssl_yfcc100m_ft_in1k``
and ``fb_swsl_ig1b_ft_in1k`` Facebook's semi- / semi-weakly supervised ones
(CC-BY-NC 4.0: non-commercial use only).
"""

__all__ = ["TIMM_TAGS"]

_RSB = ("a1_in1k", "a2_in1k", "a3_in1k")
TIMM_TAGS = {
    "resnet18": ("tv_in1k", *_RSB, "gluon_in1k", "fb_ssl_yfcc100m_ft_in1k", "fb_swsl_ig1b_ft_in1k"),
    "resnet34": ("tv_in1k", *_RSB, "bt_in1k", "gluon_in1k"),
    "resnet50": (
        "tv_in1k",
        "tv2_in1k",
        *_RSB,
        "a1h_in1k",
        "b1k_in1k",
        "b2k_in1k",
        "c1_in1k",
        "c2_in1k",
        "d_in1k",
        "ram_in1k",
        "am_in1k",
        "ra_in1k",
        "bt_in1k",
        "gluon_in1k",
        "fb_ssl_yfcc100m_ft_in1k",
        "fb_swsl_ig1b_ft_in1k",
    ),
    "resnet101": ("tv_in1k", "tv2_in1k", *_RSB, "a1h_in1k", "gluon_in1k"),
    "resnet152": ("tv_in1k", "tv2_in1k", *_RSB, "a1h_in1k", "gluon_in1k"),
    "densenet169": ("tv_in1k",),
    "densenet201": ("tv_in1k",),
}

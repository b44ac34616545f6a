"""The MLP VAE's training step with its backward pass written out: fit's fast path.

Autograd records a graph node for every operation of the forward pass and replays them backwards; for a
small MLP VAE on two CPU cores that bookkeeping (about 25 nodes, their saved tensors, Python dispatch) is
about a fifth of a training step. The gradients of this one model family are short enough to write down,
so fit() uses them here and autograd everywhere else (conv bodies, the AE family, several posterior samples).

The forward pass is the model's own (the same layers, the same reparameterised sample, the same
vae_core.losses functions for every term); only d objective / d parameters is computed by hand, with the
chain rule layer by layer:

    objective = recon + beta * KL,   recon = mean_i -log p(x_i | z_i),   z = mean + exp(logvar / 2) * eps
    d recon / d logits   = (sigmoid(logits) - x) / B                 (Bernoulli decoder)
    d recon / d means    = (means - x) / (sigma^2 B)                 (Gaussian decoder, fixed sigma)
    d KL / d mean        = mean / B,   d KL / d logvar = (exp(logvar) - 1) / (2 B)
    d z / d mean         = 1,          d z / d logvar  = exp(logvar / 2) * eps / 2
    Linear y = h W^T + b: dW = g^T h, db = sum_i g_i, dh = g W;   ReLU: dh = g * (h > 0)

tests/test_mlp_backprop.py checks every gradient against autograd in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses import LossTerms, elbo_terms, mean_reconstruction_nll


def mlp_layers(body: nn.Module, decoder: bool) -> list[nn.Linear] | None:
    """The Linear layers of an MLP body built by bodies.py, or None when the body is anything else.

    Encoder: Flatten, then (Linear, ReLU) per hidden width. Decoder: (Linear, ReLU) per hidden width, then
    Linear and Unflatten. Any other layer (a sigmoid, a conv) means the fast path does not apply.
    """
    net = getattr(body, "net", None)
    if not isinstance(net, nn.Sequential):
        return None
    kinds = [type(m) for m in net]
    layers = [m for m in net if isinstance(m, nn.Linear)]
    if decoder:
        expected = [nn.Linear, nn.ReLU] * (len(layers) - 1) + [nn.Linear, nn.Unflatten]
    else:
        expected = [nn.Flatten] + [nn.Linear, nn.ReLU] * len(layers)
    return layers if kinds == expected else None


def relu_backward(grad: Tensor, relu_output: Tensor) -> Tensor:
    """grad where the ReLU was active (output > 0), else 0: autograd's own kernel for it, in one pass
    (a boolean mask and a multiply took 6x as long)."""
    return torch.ops.aten.threshold_backward(grad, relu_output, 0.0)


def loss_and_grads(vae, x: Tensor, beta: float, encoder_layers: list[nn.Linear],
                   decoder_layers: list[nn.Linear]) -> tuple[LossTerms, list[Tensor]]:
    """The VAE's LossTerms for x and the gradient of its objective for every parameter, in parameters() order.

    The LossTerms hold plain (detached) tensors: there is no graph to call backward on.
    """
    config = vae.config
    batch = x.shape[0]
    with torch.no_grad():
        # Forward: keep each layer's input; a ReLU's output tells where it was active.
        h = x.reshape(batch, -1)
        encoder_inputs = []
        for layer in encoder_layers:
            encoder_inputs.append(h)
            h = torch.relu(torch.addmm(layer.bias, h, layer.weight.t()))
        posterior_input = h
        mean, logvar = torch.addmm(vae.to_posterior.bias, h, vae.to_posterior.weight.t()).chunk(2, dim=-1)
        std = (0.5 * logvar).exp()
        eps = torch.randn((1, *std.shape), dtype=std.dtype, device=std.device)[0]  # as VAE.sample_latent draws
        z = mean + std * eps
        h = z
        decoder_inputs = []
        for i, layer in enumerate(decoder_layers):
            decoder_inputs.append(h)
            h = torch.addmm(layer.bias, h, layer.weight.t())
            if i < len(decoder_layers) - 1:
                h = torch.relu(h)
        x_params = h.view(x.shape)
        recon = mean_reconstruction_nll(x_params, x, config.likelihood, config.gaussian_sigma)
        terms = elbo_terms(recon, mean, logvar, beta)

        # Backward, from the objective to every weight.
        grads: dict[nn.Parameter, Tensor] = {}
        if config.likelihood == "bernoulli":
            g = torch.sigmoid(h).sub_(x.reshape(batch, -1)).div_(batch)
        else:
            g = (h - x.reshape(batch, -1)).div_(config.gaussian_sigma ** 2 * batch)
        for i in reversed(range(len(decoder_layers))):
            layer, h_in = decoder_layers[i], decoder_inputs[i]
            grads[layer.weight], grads[layer.bias] = g.t().mm(h_in), g.sum(0)
            g = g.mm(layer.weight)
            if i > 0:
                g = relu_backward(g, h_in)  # h_in is the previous layer's ReLU output
        g_z = g
        g_mean = g_z + mean * (beta / batch)
        g_logvar = g_z * eps * std * 0.5 + (std * std - 1.0) * (beta / (2 * batch))
        g = torch.cat([g_mean, g_logvar], dim=-1)
        grads[vae.to_posterior.weight], grads[vae.to_posterior.bias] = g.t().mm(posterior_input), g.sum(0)
        # Each encoder layer's ReLU output feeds the layer above it (the last one feeds to_posterior).
        outputs = [*encoder_inputs[1:], posterior_input]
        above = [*encoder_layers[1:], vae.to_posterior]
        for layer, h_in, h_out, next_layer in reversed(list(zip(encoder_layers, encoder_inputs, outputs, above))):
            g = relu_backward(g.mm(next_layer.weight), h_out)
            grads[layer.weight], grads[layer.bias] = g.t().mm(h_in), g.sum(0)
    return terms, [grads[p] for p in vae.parameters()]

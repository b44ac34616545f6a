"""fit's one fast path: the MLP VAE's backward pass written out by hand instead of recorded by autograd.

Autograd records a graph node for every operation of the forward pass and replays them backwards; for a
small MLP VAE on two CPU cores that bookkeeping (about 25 nodes, their saved tensors, Python dispatch) is a
noticeable part of a training step (benchmarks/train_speed.py prints the rows with and without this path).
The gradients of this one model family are short enough to write down, so fit() uses them when, and only
when, `supports(model)` says every piece of the model is one this file knows:

    FAST_PATH_MODELS       the VAE class itself (not a subclass, which may change its loss)
    FAST_PATH_LIKELIHOODS  bernoulli (logits) and gaussian (fixed sigma)
    layer patterns         encoder: Flatten, then (Linear, ReLU) per hidden width
                           decoder: (Linear, ReLU) per hidden width, then Linear, Unflatten
    parameters             every one trainable

Anything else (conv bodies, the AE family, a new likelihood, a frozen layer) trains with autograd on
model.loss, the code a student reads. The forward pass here is VAE.loss's (the same layers, the same
reparameterised sample, the same vae_core.losses functions for every term); only d objective / d parameters
is computed by hand, with the chain rule layer by layer:

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
from .vae import VAE

FAST_PATH_MODELS = (VAE,)  # exact classes: a subclass may override loss(), so it goes to autograd
FAST_PATH_LIKELIHOODS = ("bernoulli", "gaussian")  # each has its own line in output_gradient below


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


def supports(model: nn.Module) -> bool:
    """Whether loss_and_backward computes this model's gradients; False sends fit to autograd."""
    return fast_path_layers(model) is not None


def fast_path_layers(model: nn.Module) -> tuple[list[nn.Linear], list[nn.Linear]] | None:
    """The encoder's and the decoder's Linear layers when the model is one the fast path supports, else None."""
    if type(model) not in FAST_PATH_MODELS or not isinstance(model, VAE):
        return None
    if model.config.likelihood not in FAST_PATH_LIKELIHOODS or not all(p.requires_grad for p in model.parameters()):
        return None
    encoder, decoder = mlp_layers(model.encoder, decoder=False), mlp_layers(model.decoder, decoder=True)
    return None if encoder is None or decoder is None else (encoder, decoder)


def relu_backward(grad: Tensor, relu_output: Tensor) -> Tensor:
    """grad where the ReLU was active (output > 0), else 0, in place. A ReLU's output is >= 0, so its sign
    is the 0/1 mask: one multiply by a float tensor (a boolean mask made the multiply ~4x slower)."""
    return grad.mul_(relu_output.sign())


def output_gradient(x_params: Tensor, x: Tensor, likelihood: str, gaussian_sigma: float) -> Tensor:
    """d recon / d decoder output for a batch of flattened images, recon being the batch mean NLL."""
    batch = x.shape[0]
    if likelihood == "bernoulli":
        return torch.sigmoid(x_params).sub_(x).div_(batch)
    if likelihood == "gaussian":
        return (x_params - x).div_(gaussian_sigma**2 * batch)
    raise ValueError(f"the MLP fast path has no gradient for the {likelihood!r} likelihood")


def loss_and_backward(vae: nn.Module, x: Tensor, beta: float) -> LossTerms:
    """VAE.loss(x, beta) and its backward pass: accumulates d objective / d parameter into each .grad.

    The same contract as `terms = vae.loss(x, beta); terms.objective.backward()`, except that the returned
    LossTerms hold plain (detached) tensors: there is no graph to call backward on.
    """
    layers = fast_path_layers(vae)
    if layers is None or not isinstance(vae, VAE):
        raise ValueError(
            f"the MLP fast path does not support this model ({type(vae).__name__}); train it with autograd"
        )
    encoder_layers, decoder_layers = layers
    vae._check_input(x)
    config = vae.config
    batch = x.shape[0]
    pixels = x.reshape(batch, -1)
    with torch.no_grad():
        # Forward: keep each layer's input; a ReLU's output tells where it was active.
        h = pixels
        encoder_steps = []  # (layer, its input, its ReLU output)
        for layer in encoder_layers:
            h_out = torch.relu(torch.addmm(layer.bias, h, layer.weight.t()))
            encoder_steps.append((layer, h, h_out))
            h = h_out
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
        recon = mean_reconstruction_nll(h.view(x.shape), x, config.likelihood, config.gaussian_sigma)
        terms = elbo_terms(recon, mean, logvar, beta)

        # Backward, from the objective to every weight.
        grads: dict[Tensor, Tensor] = {}
        g = output_gradient(h, pixels, config.likelihood, config.gaussian_sigma)
        for i in reversed(range(len(decoder_layers))):
            layer, h_in = decoder_layers[i], decoder_inputs[i]
            grads[layer.weight], grads[layer.bias] = g.t().mm(h_in), g.sum(0)
            g = g.mm(layer.weight)
            if i > 0:
                g = relu_backward(g, h_in)  # h_in is the previous layer's ReLU output
        g_mean = g + mean * (beta / batch)
        g_logvar = g * eps * std * 0.5 + (std * std - 1.0) * (beta / (2 * batch))
        g = torch.cat([g_mean, g_logvar], dim=-1)
        grads[vae.to_posterior.weight], grads[vae.to_posterior.bias] = g.t().mm(posterior_input), g.sum(0)
        next_layer = vae.to_posterior  # the layer each encoder layer's ReLU output feeds
        for layer, h_in, h_out in reversed(encoder_steps):
            g = relu_backward(g.mm(next_layer.weight), h_out)
            grads[layer.weight], grads[layer.bias] = g.t().mm(h_in), g.sum(0)
            next_layer = layer
        for param in vae.parameters():  # accumulate, as backward() does
            param.grad = grads[param] if param.grad is None else param.grad.add_(grads[param])
    return terms

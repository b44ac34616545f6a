"""The autoencoder-family lesson: PCA and the linear AE, sparse, denoising and contractive AEs, on toys and images."""

"""What a server needs: training jobs, t-SNE in a child process, upload preprocessing, exports, browser payloads."""

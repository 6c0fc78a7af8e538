"""The Ray Serve application: HTTP ingress, CPU brief encoder, batched recommender replicas."""

"""Team scale on Ray Serve: engine replicas behind one ingress, routed by document affinity."""

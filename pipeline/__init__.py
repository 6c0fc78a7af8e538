"""The request path as batch functions, shared by the Serve deployments, the plain baseline server and the
evaluation: briefs in -> model arrays out (features, tokenisation, reference-image colours); a batch of model
outputs in -> schemes / answer bytes out (post-processing). Sits before `model/` in the import order:
`model/` may import it, never the reverse."""

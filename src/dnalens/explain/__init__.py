"""`dnalens explain`: what the model and its dictionary see in a user's own sequence or a genome region."""

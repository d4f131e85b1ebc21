"""What never reaches a customer: the checks as rows (checks) against each shop's facts and other
shops' names (facts), knowledge out of date on the day (staleness), and bank replies that do not
fit the moment of the conversation (moment)."""

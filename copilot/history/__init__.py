"""What this shop's agents said before, ready to suggest again: chat-log readers (chatlogs), mining
pairs into a response bank (mining), the bank in Redis (bank) and in memory with its search and
vote (index), and the reply selector learned from the shop's chats and feedback (selector, its
training and feedback examples, and the job that trains and stores it: selector_job)."""
